"""The reference framework's transformer models in ``snn_zoo.models``: ``spikformer``,
``qkformer`` and ``spike_driven_transformer`` against numbers of the reference itself.

``EXPECTED`` and ``BUILDERS`` were produced by ``zoo/tests/_ref_gen/transformers.py`` with
spikingjelly 2.0.0 (CPU, float32): the reference model of each case, weights set by
:func:`det_init`, input :func:`det_input`; the state-dict key list (hashed, in order, with
shapes), the parameter count, the eval-mode output (sum and first entries), the train-mode
output sum after one forward and the sum of the BN running means it left. Custom neurons are
the reference's classes of the same names (here ``snn_neurons``').
"""

from __future__ import annotations

import hashlib
import math

import pytest
import snn_neurons
import torch
from snn_core import functional
from snn_core.surrogate import ATan
from snn_zoo.models import qkformer, spike_driven_transformer, spikformer

MODULES = {
    "spikformer": spikformer,
    "qkformer": qkformer,
    "spike_driven_transformer": spike_driven_transformer,
}

# (name, submodule, builder, kwargs, neuron, input shape, (weight gain, shift)): as the generator
CASES = [
    ("sf_p4", "spikformer", "Spikformer",
     dict(T=2, img_size_h=16, img_size_w=16, patch_size=4, num_classes=5, embed_dims=32,
          num_heads=4, depths=2), None, (2, 3, 16, 16), (4.5, 0.0)),
    ("sf_p16_seq", "spikformer", "Spikformer",
     dict(T=2, img_size_h=32, img_size_w=32, patch_size=16, num_classes=5, embed_dims=32,
          num_heads=2, depths=1, tau=3.0, detach_reset=False, v_threshold=0.7), None,
     (2, 2, 3, 32, 32), (4.0, 0.05)),
    ("sf_if", "spikformer", "Spikformer",
     dict(T=2, img_size_h=16, img_size_w=16, patch_size=4, num_classes=5, embed_dims=32,
          num_heads=4, depths=1, v_threshold=0.6), "IFNode", (2, 3, 16, 16), (2.5, 0.0)),
    ("sf_plif", "spikformer", "Spikformer",
     dict(T=3, img_size_h=16, img_size_w=16, patch_size=4, num_classes=4, embed_dims=16,
          num_heads=2, depths=1, init_tau=3.0), "ParametricLIFNode", (2, 3, 16, 16), (3.5, 0.1)),
    ("qk_tok", "qkformer", "QKFormer",
     dict(T=2, in_channels=3, num_classes=5, embed_dims=32, num_heads=(2, 2, 4),
          depths=(1, 1, 1)), None, (2, 3, 32, 32), (6.0, 0.1)),
    ("qk_ch", "qkformer", "QKFormer",
     dict(T=2, in_channels=2, num_classes=5, embed_dims=32, num_heads=(1, 2, 2),
          depths=(1, 2, 1), qka_type="channel", tau=2.5, detach_reset=True), None,
     (2, 2, 2, 32, 32), (6.0, 0.1)),
    ("qk_if", "qkformer", "QKFormer",
     dict(T=2, num_classes=3, embed_dims=16, num_heads=(1, 1, 2), depths=(1, 1, 1),
          v_threshold=0.5), "IFNode", (2, 3, 16, 16), (2.5, 0.0)),
    ("sdt", "spike_driven_transformer", "SpikeDrivenTransformer",
     dict(T=2, num_classes=5, embed_dims=32, num_heads=4, depths=2), None, (2, 3, 32, 32),
     (3.5, 0.1)),
    ("sdt_pool", "spike_driven_transformer", "SpikeDrivenTransformer",
     dict(T=2, in_channels=2, num_classes=5, embed_dims=32, num_heads=2, depths=1,
          mlp_ratio=1.0, pooling_stat="0101", tau=1.5), None, (2, 2, 2, 16, 16), (4.5, 0.0)),
    ("sdt_plif", "spike_driven_transformer", "SpikeDrivenTransformer",
     dict(T=2, num_classes=3, embed_dims=16, num_heads=2, depths=1, pooling_stat="1100"),
     "ParametricLIFNode", (2, 3, 16, 16), (3.5, 0.1)),
]  # fmt: skip

# produced by zoo/tests/_ref_gen/transformers.py (spikingjelly 2.0.0)
EXPECTED = {
    "sf_p4": dict(
        keys="4eb1f146a126e80d",
        n_keys=80,
        params=41449,
        shape=(2, 2, 5),
        eval_sum=15.479244,
        eval_first=[3.541886, 2.567619, 0.296593, -2.101958],
        train_sum=-8.491453,
        bn_mean_sum=0.329509,
    ),
    "sf_p16_seq": dict(
        keys="196b484aad8dcddb",
        n_keys=56,
        params=28585,
        shape=(2, 2, 5),
        eval_sum=-15.245096,
        eval_first=[-0.209066, -0.269506, -0.148906, 0.119037],
        train_sum=-7.130257,
        bn_mean_sum=8.141478,
    ),
    "sf_if": dict(
        keys="196b484aad8dcddb",
        n_keys=56,
        params=28585,
        shape=(2, 2, 5),
        eval_sum=9.806537,
        eval_first=[2.930015, 3.153348, 1.820872, -0.36757],
        train_sum=-2.065526,
        bn_mean_sum=-0.043634,
    ),
    "sf_plif": dict(
        keys="65b975dea575c514",
        n_keys=66,
        params=7400,
        shape=(3, 2, 4),
        eval_sum=27.238428,
        eval_first=[0.458738, 0.45832, 0.42711, 0.369084],
        train_sum=7.456109,
        bn_mean_sum=2.490067,
    ),
    "qk_tok": dict(
        keys="ed19a53325a17274",
        n_keys=150,
        params=36653,
        shape=(2, 5),
        eval_sum=142.509949,
        eval_first=[16.095186, 20.986467, 19.543701, 12.518335],
        train_sum=7.681427,
        bn_mean_sum=29.617373,
    ),
    "qk_ch": dict(
        keys="d1501ad847466766",
        n_keys=176,
        params=39769,
        shape=(2, 5),
        eval_sum=139.041458,
        eval_first=[2.282072, 11.040834, 18.760721, 21.567688],
        train_sum=6.111376,
        bn_mean_sum=30.098888,
    ),
    "qk_if": dict(
        keys="27b8e0f222298b15",
        n_keys=150,
        params=9639,
        shape=(2, 3),
        eval_sum=-3.479822,
        eval_first=[-1.615619, -1.645152, -1.447366, 0.258581],
        train_sum=4.772017,
        bn_mean_sum=1.341337,
    ),
    "sdt": dict(
        keys="6447ae03bcc18e00",
        n_keys=114,
        params=41893,
        shape=(2, 5),
        eval_sum=20.184425,
        eval_first=[3.090547, 2.804643, 2.079042, 1.283931],
        train_sum=18.681257,
        bn_mean_sum=42.285206,
    ),
    "sdt_pool": dict(
        keys="d707afc92981f912",
        n_keys=75,
        params=22369,
        shape=(2, 5),
        eval_sum=10.204885,
        eval_first=[-1.514823, -0.349558, 1.085658, 2.041658],
        train_sum=17.360840,
        bn_mean_sum=1.354277,
    ),
    "sdt_plif": dict(
        keys="228550effbf6512f",
        n_keys=87,
        params=7511,
        shape=(2, 3),
        eval_sum=3.894631,
        eval_first=[0.971927, 0.656789, 0.383258, 1.025407],
        train_sum=0.490547,
        bn_mean_sum=1.415989,
    ),
}

# full-size builders at their defaults: (parameter count, key hash) of the reference
BUILDERS = {
    "spikformer_ti": (spikformer, 4400392, "62d2deff278b55a6"),
    "spikformer_s": (spikformer, 13244824, "f0c79ff6c380ebd2"),
    "spikformer_cifar10": (spikformer, 9310906, "9a192c9d39345790"),
    "qkformer_10_384": (qkformer, 16472584, "ee7472192d011e46"),
    "sdt_8_384": (spike_driven_transformer, 16816744, "f4eed2545411927d"),
}


def det_init(model: torch.nn.Module, gain: float, shift: float) -> None:
    """The generator's weight formula (see ``_ref_gen/transformers.py``)."""
    with torch.no_grad():
        state = model.state_dict(keep_vars=True)  # the reference's names
        params = sorted((k, v) for k, v in state.items() if isinstance(v, torch.nn.Parameter))
        for i, (name, p) in enumerate(params):
            v = torch.sin(torch.arange(p.numel(), dtype=torch.float64) * 0.37 + i)
            v = v.to(p.dtype).reshape(p.shape)
            if p.dim() > 1:
                p.copy_((v + shift) * gain / math.sqrt(p[0].numel()))
            elif name.endswith("weight"):
                p.copy_(1.0 + 0.3 * v)
            elif name.endswith("bias"):
                p.copy_(0.2 * v + 0.1)


def det_input(shape: tuple[int, ...]) -> torch.Tensor:
    n = math.prod(shape)
    x = torch.cos(torch.arange(n, dtype=torch.float64) * 0.11) * 1.5 + 0.3
    return x.float().reshape(shape)


def key_hash(model: torch.nn.Module) -> str:
    text = ";".join(f"{k}:{tuple(v.shape)}" for k, v in model.state_dict().items())
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build(case: tuple) -> tuple[torch.nn.Module, torch.Tensor]:
    _, mod, fn, kw, nrn, shape, (gain, shift) = case
    kw = dict(kw)
    if nrn:
        kw["spiking_neuron"] = getattr(snn_neurons, nrn)
    model = getattr(MODULES[mod], fn)(**kw)
    det_init(model, gain, shift)
    return model, det_input(shape)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_outputs_and_state_match_the_reference(case: tuple) -> None:
    exp = EXPECTED[case[0]]
    model, x = build(case)
    assert key_hash(model) == exp["keys"] and len(model.state_dict()) == exp["n_keys"]
    assert sum(p.numel() for p in model.parameters()) == exp["params"]
    model.eval()
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape) == exp["shape"]
    assert float(y.sum()) == pytest.approx(exp["eval_sum"], abs=1e-5, rel=1e-6)
    assert y.flatten()[:4].tolist() == pytest.approx(exp["eval_first"], abs=1e-5)
    model.train()
    functional.reset_net(model)
    with torch.no_grad():
        y = model(x)
    assert float(y.sum()) == pytest.approx(exp["train_sum"], abs=1e-5, rel=1e-6)
    bn = sum(v.sum() for k, v in model.state_dict().items() if k.endswith("running_mean"))
    assert float(bn) == pytest.approx(exp["bn_mean_sum"], abs=1e-5, rel=1e-6)


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_builders_have_the_reference_parameters_and_keys(name: str) -> None:
    module, params, keys = BUILDERS[name]
    model = getattr(module, name)()
    assert sum(p.numel() for p in model.parameters()) == params
    assert key_hash(model) == keys


def test_key_layout_is_the_references() -> None:
    model = spikformer.Spikformer(embed_dims=16, num_heads=2, depths=1, num_classes=3)
    keys = list(model.state_dict())
    for key in (
        "patch_embed.stages.0.conv_bn.block.0.weight",
        "patch_embed.stages.3.conv_bn.block.1.running_var",
        "patch_embed.positional_encoding.conv_bn.block.1.num_batches_tracked",
        "blocks.0.attn.qkv_conv_bn.0.weight",
        "blocks.0.attn.proj_conv_bn.1.bias",
        "blocks.0.mlp.fc2.1.weight",
        "head.bias",
    ):
        assert key in keys
    assert tuple(model.state_dict()["blocks.0.attn.qkv_conv_bn.0.weight"].shape) == (48, 16, 1)
    sdt = spike_driven_transformer.SpikeDrivenTransformer(embed_dims=16, num_heads=2, depths=1)
    expected = {"patch_embed.stages.2.0.bias", "patch_embed.final_stage.1.weight",
                "blocks.0.attn.q_conv.weight", "blocks.0.mlp.fc1.bias"}  # fmt: skip
    assert expected <= set(sdt.state_dict())


def test_state_dict_round_trip_is_exact() -> None:
    model, x = build(CASES[4])  # qk_tok
    clone = qkformer.QKFormer(**CASES[4][3])
    clone.load_state_dict(model.state_dict(), strict=True)
    model.eval(), clone.eval()
    with torch.no_grad():
        assert torch.equal(model(x), clone(x))


def test_reference_forward_conventions() -> None:
    """The reference's own test: image and sequence inputs give ``[T, N, classes]``;
    ``spikformer_ti`` trains (``backend='torch'`` is forwarded to the neurons)."""
    model = spikformer.Spikformer(
        T=2, img_size_h=32, img_size_w=32, num_classes=11, embed_dims=32, num_heads=4, depths=1,
        backend="torch", step_mode="m",
    ).eval()  # fmt: skip
    functional.reset_net(model)
    assert model(torch.randn(3, 3, 32, 32)).shape == (2, 3, 11)
    functional.reset_net(model)
    assert model(torch.randn(2, 3, 3, 32, 32)).shape == (2, 3, 11)
    net = spikformer.spikformer_ti(
        T=2, img_size_h=32, img_size_w=32, num_classes=7, backend="torch"
    )
    y = net(torch.randn(2, 3, 32, 32))
    torch.nn.functional.cross_entropy(y.mean(0), torch.tensor([1, 3])).backward()
    assert y.shape == (2, 2, 7) and net.head.weight.grad is not None


def test_state_is_kept_between_forwards_as_in_the_reference() -> None:
    model, x = build(CASES[0])
    model.eval()
    with torch.no_grad():
        first = model(x)
        assert isinstance(model.blocks[0].attn.qkv_lif.v, torch.Tensor)
        functional.reset_net(model)
        assert torch.equal(model(x), first)


def test_neuron_defaults_follow_the_reference() -> None:
    sf = spikformer.Spikformer(embed_dims=16, num_heads=2, depths=1, tau=3.0)
    stem, attn = sf.patch_embed.stages[0].neuron, sf.blocks[0].attn
    assert isinstance(stem, snn_neurons.LIFNode) and stem.tau == 3.0 and stem.detach_reset
    # with the default neuron the attention keeps tau=2 and detach_reset=True
    assert (
        attn.qkv_lif.tau == 2.0 and attn.attn_lif.v_threshold == 0.5 and attn.qkv_lif.detach_reset
    )
    assert sf.blocks[0].mlp.neuron1.tau == 3.0 and stem.step_mode == "m"
    qk = qkformer.QKFormer(embed_dims=16, num_heads=(1, 1, 2), depths=(1, 1, 1))
    assert qk.patch_embed1.lif1.detach_reset is False and qk.stage1[0].mlp.fc1_lif.tau == 2.0
    assert qk.stage1[0].attn.qk_lif.detach_reset and qk.stage1[0].attn.attn_lif.v_threshold == 0.5
    sdt = spike_driven_transformer.sdt_8_384(spiking_neuron=snn_neurons.IFNode, v_threshold=0.8)
    assert isinstance(sdt.head_lif, snn_neurons.IFNode) and sdt.head_lif.v_threshold == 0.8
    # a custom neuron gets the keywords only: no paper threshold for the attention neuron
    assert sdt.blocks[0].attn.attn_lif.v_threshold == 0.8


def test_surrogate_keyword_is_copied_per_neuron() -> None:
    sg = ATan()
    model = spikformer.Spikformer(embed_dims=16, num_heads=2, depths=1, surrogate_function=sg)
    fns = [m.surrogate_function for m in model.modules() if isinstance(m, snn_neurons.LIFNode)]
    assert all(isinstance(f, ATan) and f is not sg for f in fns)
    assert len({id(f) for f in fns}) == len(fns)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: spikformer.Spikformer(spiking_neuron="LIF"), "spiking_neuron"),
        (lambda: spikformer.Spikformer(patch_size=8), "patch_size"),
        (lambda: spikformer.Spikformer(embed_dims=32, num_heads=5), "num_heads"),
        (lambda: spikformer.spikformer_ti(step_mode="s"), "step_mode"),
        (lambda: qkformer.QKFormer(qka_type="spatial"), "qka_type"),
        (lambda: qkformer.QKFormer(depths=(1, 2)), "depths"),
        (lambda: qkformer.QKFormer(embed_dims=30), "embed_dims"),
        (
            lambda: spike_driven_transformer.SpikeDrivenTransformer(pooling_stat="11"),
            "pooling_stat",
        ),
        (
            lambda: spike_driven_transformer.SpikeDrivenTransformer(pooling_stat="1121"),
            "pooling_stat",
        ),
    ],
)
def test_bad_arguments_are_named(make, match: str) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize(
    ("mod", "fn"),
    [("spikformer", "Spikformer"), ("qkformer", "QKFormer"),
     ("spike_driven_transformer", "SpikeDrivenTransformer")],
)  # fmt: skip
def test_wrong_input_rank_is_an_error(mod: str, fn: str) -> None:
    model = getattr(MODULES[mod], fn)(embed_dims=32, num_heads=2 if fn != "QKFormer" else (1, 1, 2))
    with pytest.raises(ValueError, match=r"\[T, N, C, H, W\]"):
        model(torch.zeros(3, 32, 32))
