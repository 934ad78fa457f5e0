"""QKFormer (Zhou et al., "QKFormer: Hierarchical Spiking Transformer using Q-K Attention",
NeurIPS 2024; official code github.com/zhouchenlin2096/QKFormer).

A hierarchical spiking transformer: a patch embedding with a deformed shortcut (a
``conv1x1 -> BN -> LIF`` shortcut added to a stack of ``conv3x3 -> BN (-> maxpool) -> LIF``
units) before every stage; the early stages use Q-K token attention blocks
(``TokenQKAttention`` + spiking MLP), the last stage Spiking Self-Attention blocks
(Spikformer's SSA). The head classifies features averaged over tokens and time.

Official layouts, kept so that published checkpoints load as they are:

- ``'imagenet'``: stages of ``D/4, D/2, D`` channels with ``1, 2, depth - 3`` blocks, input
  reduced 4x by the first embedding (two max-pools), MLP ``fc1_conv`` / ``fc2_conv``, SSA
  block attribute ``attn``;
- ``'cifar'``: ``D/4, D/2, D`` with ``1, 1, depth - 2`` blocks, no reduction in the first
  embedding, MLP ``mlp1_conv`` / ``mlp2_conv``, SSA block attribute ``ssa``;
- ``'dvs'``: two stages ``D/2, D`` with 1 token block and ``depth - 1`` SSA blocks, the
  first embedding reduces 8x with a stride-4 shortcut, as the CIFAR10-DVS code.

Batch coupling (``batch_independent``). The official SSA applies its output neuron
``proj_lif`` to a ``[T*B, C, N]`` tensor, before the time axis is restored, so that neuron
takes the flattened ``T*B`` axis as its time axis: its state runs through the samples of a
batch (step ``t`` of sample ``b`` is its step ``t*B + b``), and a sample's logits depend on
the other samples of its batch. The paper variants compute exactly that by default
(``batch_independent=False``), so published checkpoints give the published numbers;
``batch_independent=True`` runs that neuron over time only, per sample, as the paper's
equations (Eq. 9 with Spikformer's SSA) read: outputs then do not depend on the batch.
Both forms share every parameter, so a checkpoint loads into either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from snn_layers.attention import SpikingSelfAttention, TokenQKAttention, make_neuron_factory
from torch import nn

from snn_zoo._base import SpikingClassifier, check_global_pool, reject_unplaced
from snn_zoo._blocks import (
    MLP,
    ResidualBlock,
    check_positive_int,
    check_rate,
    drop_path_rates,
    dropout,
    init_vit_weights,
    seq_apply,
    to_2tuple_size,
)
from snn_zoo._registry import register_model
from snn_zoo.data import DIGITS_CARD

__all__ = ["PatchEmbed", "QKFormer", "QKFormerSSA"]

# unit: (prefix, in, out, max-pool?); shortcut: (prefix, source unit (-1: input), in, out, stride)
Unit = tuple[str, int, int, bool]
Shortcut = tuple[str, int, int, int, int]


class PatchEmbed(nn.Module):
    """Patch embedding with a deformed shortcut (QKFormer Sec. 3.3).

    ``units`` are ``conv3x3 -> BN (-> maxpool 3/2) -> LIF`` applied in order; the shortcut
    ``conv1x1(stride) -> BN -> LIF`` reads the input or a unit's output and is added to the
    last unit's output. Parameters are named ``{prefix}_conv`` / ``{prefix}_bn`` as in the
    official code.
    """

    def __init__(self, units: Sequence[Unit], shortcut: Shortcut, build_neuron: Any) -> None:
        super().__init__()
        self.units = [u[0] for u in units]
        self.pooled = [u[3] for u in units]
        for prefix, cin, cout, pool in units:
            setattr(
                self, f"{prefix}_conv", nn.Conv2d(cin, cout, 3, stride=1, padding=1, bias=False)
            )
            setattr(self, f"{prefix}_bn", nn.BatchNorm2d(cout))
            if pool:
                setattr(self, f"{prefix}_maxpool", nn.MaxPool2d(3, stride=2, padding=1))
            setattr(self, f"{prefix}_lif", build_neuron())
        name, self.source, cin, cout, stride = shortcut
        self.shortcut = name
        setattr(self, f"{name}_conv", nn.Conv2d(cin, cout, 1, stride=stride, padding=0, bias=False))
        setattr(self, f"{name}_bn", nn.BatchNorm2d(cout))
        setattr(self, f"{name}_lif", build_neuron())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = x if self.source < 0 else None
        for i, (prefix, pool) in enumerate(zip(self.units, self.pooled)):
            x = seq_apply(
                getattr(self, f"{prefix}_bn"), seq_apply(getattr(self, f"{prefix}_conv"), x)
            )
            if pool:
                x = seq_apply(getattr(self, f"{prefix}_maxpool"), x)
            x = getattr(self, f"{prefix}_lif")(x)
            if i == self.source:
                feat = x
        s = self.shortcut
        res = seq_apply(getattr(self, f"{s}_bn"), seq_apply(getattr(self, f"{s}_conv"), feat))
        return x + getattr(self, f"{s}_lif")(res)


class QKFormerSSA(SpikingSelfAttention):
    """Spikformer's SSA as QKFormer's last stage uses it.

    With ``batch_independent=False`` (the official code) the output neuron ``proj_lif`` runs
    over the flattened ``T*B`` axis: for ``Y = BN(Linear(SSA'))`` of shape ``[T, B, C, L]``,
    the neuron sees the sequence ``Y[0, 0], Y[0, 1], ..., Y[0, B-1], Y[1, 0], ...`` of
    ``T*B`` steps, each ``[C, L]``, so its membrane carries over from one sample to the next.
    With ``batch_independent=True`` it runs over ``T`` for each sample (the parent class).
    Other arguments as :class:`snn_layers.attention.SpikingSelfAttention`.
    """

    def __init__(self, *args: Any, batch_independent: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not isinstance(batch_independent, bool):
            raise TypeError(
                f"{type(self).__name__}: batch_independent must be a bool, got "
                f"{batch_independent!r}"
            )
        self.batch_independent = batch_independent

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        if self.batch_independent:
            return super().forward(x_seq)
        T, B, C = x_seq.shape[:3]
        spatial = x_seq.shape[3:]
        x = x_seq.flatten(3)
        L = x.shape[-1]
        h, d = self.num_heads, C // self.num_heads
        q = self.q_lif(self._branch("q", x)).reshape(T, B, h, d, L)
        k = self.k_lif(self._branch("k", x)).reshape(T, B, h, d, L)
        v = self.v_lif(self._branch("v", x)).reshape(T, B, h, d, L)
        # spikes: Q K^T V holds integer counts, exact in either product order
        y = (v @ k.transpose(-2, -1)) @ q if d <= L else v @ (k.transpose(-2, -1) @ q)
        y = self.attn_lif((y * self.scale).reshape(T, B, C, L))
        y = self._branch("proj", y).reshape(T * B, 1, C, L)  # T*B steps of one [C, L] map
        return self.proj_lif(y).reshape(T, B, C, *spatial)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, batch_independent={self.batch_independent}"


def _embeds(layout: str, in_chans: int, dims: list[int]) -> list[tuple[list[Unit], Shortcut]]:
    """(units, shortcut) of every stage's patch embedding in the official layouts."""
    if layout == "imagenet":
        e = dims[0]
        first = (
            [("proj", in_chans, e // 2, True), ("proj1", e // 2, e, True), ("proj2", e, e, False)],
            ("proj_res", 0, e // 2, e, 2),
        )
        later = [
            ([("proj3", e // 2, e, True), ("proj4", e, e, False)], ("proj_res", -1, e // 2, e, 2))
            for e in dims[1:]
        ]
    elif layout == "cifar":
        e = dims[0]
        first = (
            [("proj", in_chans, e // 2, False), ("proj1", e // 2, e, False)],
            ("proj_res", 0, e // 2, e, 1),
        )
        later = [
            ([("proj3", e // 2, e, False), ("proj4", e, e, True)], ("proj_res", -1, e // 2, e, 2))
            for e in dims[1:]
        ]
    else:  # dvs
        e = dims[0]
        first = (
            [
                ("proj", in_chans, e // 8, False),
                ("proj1", e // 8, e // 4, True),
                ("proj2", e // 4, e // 2, True),
                ("proj3", e // 2, e, True),
            ],
            ("proj_res", 1, e // 4, e, 4),
        )
        later = [
            ([("proj", e // 2, e, False), ("proj4", e, e, True)], ("proj_res", -1, e // 2, e, 2))
            for e in dims[1:]
        ]
    return [first, *later]


_LAYOUTS: dict[str, dict[str, Any]] = {
    "imagenet": dict(
        stage_div=(4, 2, 1),
        ssa_name="attn",
        mlp_names=("fc1", "fc2"),
        reductions=(4, 8, 16),
        min_depth=4,
    ),
    "cifar": dict(
        stage_div=(4, 2, 1),
        ssa_name="ssa",
        mlp_names=("mlp1", "mlp2"),
        reductions=(1, 2, 4),
        min_depth=3,
    ),
    "dvs": dict(
        stage_div=(2, 1),
        ssa_name="ssa",
        mlp_names=("mlp1", "mlp2"),
        reductions=(8, 16),
        min_depth=2,
    ),
}


def _blocks_per_stage(layout: str, depth: int) -> list[int]:
    if layout == "imagenet":
        return [1, 2, depth - 3]
    if layout == "cifar":
        return [1, 1, depth - 2]
    return [1, depth - 1]


class QKFormer(SpikingClassifier):
    """QKFormer (HST-``depth``-``embed_dim``); see the module docstring.

    Args:
        img_size: input size recorded in the card (any size runs).
        in_chans: input channels.
        num_classes: classes (0: no head).
        embed_dim: ``D``, the channels of the last stage.
        depth: total number of transformer blocks.
        num_heads: attention heads in every stage.
        mlp_ratio: MLP hidden size ``int(dim * mlp_ratio)``.
        T: time steps a static image is repeated over.
        layout: ``'imagenet'``, ``'cifar'`` or ``'dvs'`` (official layouts).
        drop_path_rate: stochastic depth (0 in the paper).
        batch_independent: ``False`` (default, the official code): the SSA output neuron
            runs over the flattened ``T*B`` axis, so logits depend on the other samples of
            the batch; ``True``: it runs over time per sample (see :class:`QKFormerSSA`).
        backend, neuron, neuron_kwargs: the neurons (see ``snn_layers.attention``).
        drop_rate: dropout on the pooled features before the head (timm's meaning).
        proj_drop_rate: dropout on the outputs of the attention and MLP branches.
        attn_drop_rate, pos_drop_rate, patch_drop_rate, drop_block_rate: accepted at 0 only
            (no softmax attention map, no position embedding, no token dropping or DropBlock).
        global_pool: ``None`` or ``'avg'`` (the mean over tokens and time).
        bn_momentum, bn_eps: ``momentum`` / ``eps`` of every BatchNorm (``None``: torch's).
    """

    def __init__(
        self,
        *,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 384,
        depth: int = 10,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        T: int = 4,
        layout: str = "imagenet",
        drop_path_rate: float = 0.0,
        batch_independent: bool = False,
        backend: str = "torch",
        neuron: Any = None,
        neuron_kwargs: Mapping[str, Any] | None = None,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        patch_drop_rate: float = 0.0,
        drop_block_rate: float | None = None,
        global_pool: str | None = None,
        bn_momentum: float | None = None,
        bn_eps: float | None = None,
    ) -> None:
        super().__init__(T, num_classes, in_chans)
        name = type(self).__name__
        reject_unplaced(
            name,
            attn_drop_rate=(attn_drop_rate, "Q-K attention has no softmax attention map"),
            pos_drop_rate=(pos_drop_rate, "QKFormer has no position embedding"),
            patch_drop_rate=(patch_drop_rate, "token dropping is not implemented"),
            drop_block_rate=(drop_block_rate, "DropBlock is not implemented"),
        )
        self.global_pool = check_global_pool(name, global_pool)
        self.drop_rate = check_rate(name, "drop_rate", drop_rate)
        proj_drop = check_rate(name, "proj_drop_rate", proj_drop_rate)
        if layout not in _LAYOUTS:
            raise ValueError(f"{name}: layout must be one of {sorted(_LAYOUTS)}, got {layout!r}")
        spec = _LAYOUTS[layout]
        check_positive_int(name, "depth", depth, minimum=spec["min_depth"])
        check_positive_int(name, "embed_dim", embed_dim)
        div = 16 if layout == "dvs" else 8
        if embed_dim % div:
            raise ValueError(
                f"{name}: embed_dim must be divisible by {div} for layout={layout!r}, "
                f"got {embed_dim}"
            )
        dims = [embed_dim // d for d in spec["stage_div"]]
        for d in dims:
            if d % num_heads:
                raise ValueError(
                    f"{name}: every stage width {dims} must be divisible by num_heads={num_heads}"
                )
        if isinstance(mlp_ratio, bool) or not isinstance(mlp_ratio, (int, float)) or mlp_ratio <= 0:
            raise ValueError(f"{name}: mlp_ratio must be a positive number, got {mlp_ratio!r}")
        self.img_size = to_2tuple_size(name, img_size)
        self.embed_dim = self.num_features = embed_dim
        self.layout = layout
        if not isinstance(batch_independent, bool):
            raise TypeError(f"{name}: batch_independent must be a bool, got {batch_independent!r}")
        self.batch_independent = batch_independent
        build = make_neuron_factory(neuron, neuron_kwargs, backend)
        counts = _blocks_per_stage(layout, depth)
        dpr = iter(drop_path_rates(name, drop_path_rate, sum(counts)))
        n_stages = len(dims)
        for s, ((units, shortcut), dim, count) in enumerate(
            zip(_embeds(layout, in_chans, dims), dims, counts)
        ):
            setattr(self, f"patch_embed{s + 1}", PatchEmbed(units, shortcut, build))
            last = s == n_stages - 1
            blocks = []
            for _ in range(count):
                if last:
                    attn_name = spec["ssa_name"]
                    attn: nn.Module = QKFormerSSA(
                        dim,
                        num_heads,
                        backend,
                        batch_independent=batch_independent,
                        proj_bias=True,
                        neuron=neuron,
                        neuron_kwargs=neuron_kwargs,
                    )
                else:
                    attn_name = "tssa"
                    attn = TokenQKAttention(
                        dim,
                        num_heads,
                        backend,
                        proj_bias=True,
                        neuron=neuron,
                        neuron_kwargs=neuron_kwargs,
                    )
                mlp = MLP(dim, int(dim * mlp_ratio), "conv2d", build, names=spec["mlp_names"])
                blocks.append(ResidualBlock(attn_name, attn, mlp, next(dpr), proj_drop))
            setattr(self, f"stage{s + 1}", nn.ModuleList(blocks))
        self._n_stages = n_stages
        self.head_drop = dropout(self.drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.apply(init_vit_weights)
        self.set_bn_options(bn_momentum, bn_eps)
        self.feature_info = [
            dict(num_chs=dim, reduction=red, module=f"stage{s + 1}")
            for s, (dim, red) in enumerate(zip(dims, spec["reductions"]))
        ]

    @classmethod
    def num_feature_stages(cls, layout: str = "imagenet", **config: Any) -> int:
        """Number of feature stages for a config (2 for ``layout='dvs'``, else 3)."""
        return 2 if layout == "dvs" else 3

    def stage_modules(self) -> list[list[nn.Module]]:
        return [
            [getattr(self, f"patch_embed{s}"), *getattr(self, f"stage{s}")]
            for s in range(1, self._n_stages + 1)
        ]

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """``[T, B, D, H, W]`` -> mean over tokens and time -> dropout -> ``head``."""
        x = self.head_drop(x.flatten(3).mean(3).mean(0))
        return x if pre_logits else self.head(x)

    def new_head(self, num_classes: int) -> nn.Module:
        head = super().new_head(num_classes)
        if num_classes > 0:
            init_vit_weights(head)
        return head


# --------------------------------------------------------------------------- variants
_PAPER = (
    "QKFormer: Hierarchical Spiking Transformer using Q-K Attention (Zhou et al., NeurIPS 2024)"
)


_COUPLED = (
    "batch-coupled as the official code: the SSA output neuron of the last stage runs over "
    "the flattened T*B axis and a sample's logits depend on its batch; "
    "batch_independent=True gives per-sample outputs with the same weights"
)


def _card(dataset: str, params_m: float | None, acc: float | None, **kw: Any) -> dict[str, Any]:
    if kw.pop("coupled", True):  # a paper variant: say how it computes SSA
        kw["notes"] = (*kw.get("notes", ()), _COUPLED)
    card = dict(
        architecture="qkformer",
        paper=_PAPER,
        paper_ids="arXiv:2403.16552",
        origin_url="https://github.com/zhouchenlin2096/QKFormer",
        dataset=dataset,
        params_m=params_m,
        reported_accuracy=acc,
        T=4,
        num_classes=1000,
        input_size=(3, 224, 224),
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        crop_pct=1.0,
        interpolation="bicubic",
        first_conv="patch_embed1.proj_conv",
        classifier="head",
        license="MIT",
    )
    card.update(kw)
    return card


def _imagenet(dim: int, heads: int) -> dict[str, Any]:
    return dict(embed_dim=dim, depth=10, num_heads=heads, img_size=224, T=4, layout="imagenet")


@register_model(QKFormer, _card("imagenet-1k", 16.47, 78.80))
def qkformer_10_384() -> dict[str, Any]:
    """QKFormer HST-10-384, ImageNet-1k, 224x224, T=4."""
    return _imagenet(384, 6)


@register_model(QKFormer, _card("imagenet-1k", 29.08, 82.04))
def qkformer_10_512() -> dict[str, Any]:
    """QKFormer HST-10-512, ImageNet-1k, 224x224, T=4."""
    return _imagenet(512, 8)


@register_model(
    QKFormer,
    _card("imagenet-1k", 64.96, 84.22, notes=("85.65% when fine-tuned at 384x384 (paper)",)),
    default=True,
)
def qkformer_10_768() -> dict[str, Any]:
    """QKFormer HST-10-768, ImageNet-1k, 224x224, T=4: the paper's headline model."""
    return _imagenet(768, 12)


@register_model(
    QKFormer,
    _card(
        "cifar-100",
        6.74,
        81.15,
        num_classes=100,
        input_size=(3, 32, 32),
        mean=(0.4914, 0.4822, 0.4465),
        std=(0.2470, 0.2435, 0.2616),
        notes=("mean / std: those of the official cifar100.yml (CIFAR-10's statistics)",),
    ),
)
def qkformer_4_384_cifar() -> dict[str, Any]:
    """QKFormer HST-4-384, CIFAR-100, 32x32, T=4 (official CIFAR layout, 8 heads)."""
    return dict(
        embed_dim=384, depth=4, num_heads=8, img_size=32, T=4, num_classes=100, layout="cifar"
    )


@register_model(
    QKFormer,
    _card(
        "cifar10-dvs",
        1.50,
        84.0,
        T=16,
        num_classes=10,
        input_size=(2, 128, 128),
        mean=(0.0, 0.0),
        std=(1.0, 1.0),
        notes=("input: [T=16, B, 2, 128, 128] event frames",),
    ),
)
def qkformer_2_256_dvs() -> dict[str, Any]:
    """QKFormer HST-2-256, CIFAR10-DVS, 128x128 event frames, T=16 (16 heads, MLP ratio 1)."""
    return dict(
        embed_dim=256,
        depth=2,
        num_heads=16,
        mlp_ratio=1.0,
        img_size=128,
        T=16,
        in_chans=2,
        num_classes=10,
        layout="dvs",
    )


@register_model(
    QKFormer,
    _card(
        "sklearn digits (8x8)",
        None,
        None,
        T=4,
        **DIGITS_CARD,
        paper=_PAPER + "; small variant of this project",
        coupled=False,
        notes=(
            "inputs: digits.data / 16, normalised by mean/std",
            "stages at 8x8, 4x4, 2x2",
            "batch_independent=True: per-sample outputs (the paper variants are batch-coupled)",
        ),
    ),
)
def qkformer_digits() -> dict[str, Any]:
    """A small QKFormer for scikit-learn's 8x8 digits (1x8x8, 10 classes, T=4)."""
    return dict(
        embed_dim=64,
        depth=3,
        num_heads=4,
        img_size=8,
        T=4,
        in_chans=1,
        num_classes=10,
        layout="cifar",
        batch_independent=True,
    )
