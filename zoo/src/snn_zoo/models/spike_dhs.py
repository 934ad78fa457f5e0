r"""Building blocks of SpikeDHS, the reference's ``activation_based.model.spike_dhs``
namespace.

Che et al., "Differentiable Hierarchical and Surrogate Gradient Search for Spiking Neural
Networks", NeurIPS 2022. The blocks are convolution / linear / pooling -> batch norm ->
LIF neuron with ``tau = 1.25``, no input decay, ``V_th = 0.5``, hard reset to 0, detached
reset and the :class:`DSpike` surrogate (Li et al., "Differentiable Spike: Rethinking
Gradient-Descent for Training Spiking Neural Networks", NeurIPS 2021). The search blocks
(``SearchSpikingConv2d_*``) hold three copies of their convolutions, norms and neurons for
the differentiable gradient search (DGS): the middle copy ``_m`` is the model; during a DGS
stage the ``_s`` / ``_b`` copies use the surrogate ``alpha`` one step smaller / bigger, and
their outputs are mixed by ``softmax(dgs_alpha)``.

The layers are built in single-step mode, as the reference's: for ``[T, N, ...]``
sequences call ``snn_core.functional.set_step_mode(module, 'm')``. As in the reference,
``b`` is accepted and unused, ``SpikingAvgPool2d`` / ``SpikingAdaptiveAvgPool2d`` always
spike, and the search blocks' neurons keep ``V_th = 0.5`` whatever ``v_threshold`` says.
The searched network itself, :class:`SpikeDHS` (with ``Cell``, ``newFeature`` and
``AuxiliaryHeadCIFAR``), is kept under the reference's names outside ``__all__``, as there.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import snn_layers as layer
import torch
import torch.nn.functional as F
from snn_neurons import LIFNode
from torch import nn

from snn_zoo.models._dspike import DSpike, save_v_LIFNode

__all__ = [
    "DSpike",
    "save_v_LIFNode",
    "SpikingConv2d",
    "SpikingLinear",
    "SpikingAvgPool2d",
    "SpikingAdaptiveAvgPool2d",
    "SearchSpikingConv2d_stem",
    "SearchSpikingConv2d_cell",
]


def _dspike_lif(v_threshold: float = 0.5) -> LIFNode:
    return LIFNode(
        tau=1.25,
        decay_input=False,
        v_threshold=v_threshold,
        detach_reset=True,
        surrogate_function=DSpike(),
    )


def _dspike_save_v_lif(v_threshold: float = 0.5) -> save_v_LIFNode:
    return save_v_LIFNode(
        tau=1.25,
        decay_input=False,
        v_threshold=v_threshold,
        detach_reset=True,
        surrogate_function=DSpike(),
    )


class SpikingConv2d(nn.Module):
    """Convolution (with bias) -> batch norm (-> DSpike LIF neuron with ``spiking``).

    Args:
        input_c, output_c: input / output channels.
        kernel_size, stride, padding: of the convolution.
        b: unused (the reference's signature).
        spiking: append the neuron (``False``: output the normalized convolution).
        v_threshold: the neuron's threshold.
    """

    def __init__(
        self,
        input_c: int,
        output_c: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        b: int = 3,
        spiking: bool = True,
        v_threshold: float = 0.5,
    ) -> None:
        super().__init__()
        self.conv = layer.Conv2d(
            input_c, output_c, kernel_size=kernel_size, stride=stride, padding=padding
        )
        self.bn = layer.BatchNorm2d(output_c)
        self.spiking = spiking
        if spiking:
            self.spike = _dspike_lif(v_threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.spike(x) if self.spiking else x


class SpikingLinear(nn.Module):
    """Linear -> batch norm over features (-> DSpike LIF neuron with ``spiking``).

    Takes ``[T, N, input_c]`` (the norm runs over ``T * N`` samples).

    Args:
        input_c, output_c: input / output features.
        spiking: append the neuron.
    """

    def __init__(self, input_c: int, output_c: int, spiking: bool = True) -> None:
        super().__init__()
        self.linear = layer.Linear(input_c, output_c)
        self.bn = layer.SeqToANNContainer(nn.BatchNorm1d(output_c))
        self.spiking = spiking
        if spiking:
            self.spike = _dspike_lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.linear(x))
        return self.spike(x) if self.spiking else x


class SpikingAvgPool2d(nn.Module):
    """Average pool over ``[T, N, C, H, W]`` (padding excluded from the mean) -> DSpike LIF
    neuron. ``b`` and ``spiking`` are unused (the reference's signature)."""

    def __init__(
        self,
        kernel_size: int = 5,
        stride: int = 3,
        padding: int = 0,
        b: int = 3,
        spiking: bool = True,
    ) -> None:
        super().__init__()
        self.pooling = layer.SeqToANNContainer(
            nn.AvgPool2d(
                kernel_size=kernel_size, stride=stride, padding=padding, count_include_pad=False
            )
        )
        self.spike = _dspike_lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spike(self.pooling(x))


class SpikingAdaptiveAvgPool2d(nn.Module):
    """Adaptive average pool to ``dimension`` over ``[T, N, C, H, W]`` -> DSpike LIF neuron.
    ``b`` and ``spiking`` are unused (the reference's signature)."""

    def __init__(self, dimension: Any, b: int = 3, spiking: bool = True) -> None:
        super().__init__()
        self.pooling = layer.SeqToANNContainer(nn.AdaptiveAvgPool2d(dimension))
        self.spike = _dspike_lif()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spike(self.pooling(x))


class _DGSBlock(nn.Module):
    """The differentiable-gradient-search bookkeeping shared by the search blocks: the
    ``_s`` / ``_m`` / ``_b`` copies of each ``(conv, bn)`` pair, their neurons, and the
    mixing weights ``dgs_alpha``."""

    _pairs: tuple[tuple[str, str], ...]  # (conv prefix, bn prefix) per input

    def _init_dgs(self) -> None:
        for branch in ("m", "b", "s"):  # the reference's registration order
            setattr(self, f"spike_{branch}", _dspike_save_v_lif())
        self.is_DGS = False
        first_conv = getattr(self, f"{self._pairs[0][0]}_m")
        self.dgs_alpha = nn.Parameter(first_conv.weight.new_full((3,), 1e-3))
        self.dgs_step = 0.2

    def dgs_init_stage(self) -> None:
        """Start a DGS stage: copy the ``_m`` weights to ``_s`` and ``_b``, set their
        surrogates' ``alpha`` to ``alpha_m -/+ dgs_step``, reset ``dgs_alpha`` and make
        every parameter trainable."""
        self.is_DGS = True
        for conv, bn in self._pairs:
            for name in (conv, bn):
                main = getattr(self, f"{name}_m").state_dict()
                getattr(self, f"{name}_s").load_state_dict(main)
                getattr(self, f"{name}_b").load_state_dict(main)
        alpha = self.spike_m.surrogate_function.alpha
        self.spike_s.surrogate_function.alpha = alpha - self.dgs_step
        self.spike_b.surrogate_function.alpha = alpha + self.dgs_step
        with torch.no_grad():
            self.dgs_alpha.fill_(1e-3)
        for p in self.parameters():
            p.requires_grad_(True)

    def dgs_finish_stage(self, dgs_direction: int) -> None:
        """End a DGS stage: move ``alpha_m`` by ``-dgs_step`` / ``0`` / ``+dgs_step`` for
        ``dgs_direction`` 0 / 1 / 2 (not below 0.2)."""
        if dgs_direction not in (0, 1, 2) or isinstance(dgs_direction, bool):
            raise ValueError(
                f"dgs_direction must be 0 (smaller alpha), 1 (keep) or 2 (bigger alpha), got "
                f"{dgs_direction!r}"
            )
        self.is_DGS = False
        sg = self.spike_m.surrogate_function
        sg.alpha += (-self.dgs_step, 0, self.dgs_step)[dgs_direction]
        if sg.alpha < 0.2:
            sg.alpha = 0.2

    def _branch(self, branch: str, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        h = None
        for (conv, bn), x in zip(self._pairs, inputs):
            y = getattr(self, f"{bn}_{branch}")(getattr(self, f"{conv}_{branch}")(x))
            h = y if h is None else h + y
        return getattr(self, f"spike_{branch}")(h)

    def _mix(self, *inputs: torch.Tensor) -> torch.Tensor:
        if not self.is_DGS:
            return self._branch("m", inputs)
        w = F.softmax(self.dgs_alpha, dim=0)
        # surrogate alpha - step, alpha, alpha + step
        mixed = w[0] * self._branch("s", inputs) + w[1] * self._branch("m", inputs)
        return mixed + w[2] * self._branch("b", inputs)


class SearchSpikingConv2d_stem(_DGSBlock):
    """Search stem: convolution -> batch norm -> DSpike LIF neuron (recording
    ``v_before_spike``), with the DGS copies (see the module docstring).

    Args: as :class:`SpikingConv2d` (``b``, ``spiking`` and ``v_threshold`` unused).
    """

    _pairs = (("conv", "bn"),)

    def __init__(
        self,
        input_c: int,
        output_c: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        b: int = 3,
        spiking: bool = True,
        v_threshold: float = 0.5,
    ) -> None:
        super().__init__()
        for branch in ("m", "b", "s"):
            setattr(
                self,
                f"conv_{branch}",
                layer.Conv2d(input_c, output_c, kernel_size, stride=stride, padding=padding),
            )
        for branch in ("m", "b", "s"):
            setattr(self, f"bn_{branch}", layer.BatchNorm2d(output_c))
        self._init_dgs()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix(x)


class SearchSpikingConv2d_cell(_DGSBlock):
    """Search cell node: ``spike(bn1(conv1(x1)) + bn2(conv2(x2)))`` with DSpike LIF neurons
    (recording ``v_before_spike``) and the DGS copies (see the module docstring).

    Args:
        io_c: ``[[in1, out1, primitive1], [in2, out2, primitive2]]``, the channels of the
            two convolutions (the primitives are not used).
        kernel_size, stride, padding: of both convolutions.
        b, spiking, v_threshold: unused (the reference's signature).
    """

    _pairs = (("conv1", "bn1"), ("conv2", "bn2"))

    def __init__(
        self,
        io_c: Any,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        b: int = 3,
        spiking: bool = True,
        v_threshold: float = 0.5,
    ) -> None:
        super().__init__()
        try:
            (in1, out1, _), (in2, out2, _) = io_c
        except (TypeError, ValueError):
            raise ValueError(
                "io_c must be [[in_channels1, out_channels1, primitive1], [in_channels2, "
                f"out_channels2, primitive2]], got {io_c!r}"
            ) from None
        for i, (c_in, c_out) in ((1, (in1, out1)), (2, (in2, out2))):
            for branch in ("m", "b", "s"):
                setattr(
                    self,
                    f"conv{i}_{branch}",
                    layer.Conv2d(c_in, c_out, kernel_size, stride=stride, padding=padding),
                )
            for branch in ("m", "b", "s"):
                setattr(self, f"bn{i}_{branch}", layer.BatchNorm2d(c_out))
        self._init_dgs()

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        return self._mix(x1, x2)


# ---------------------------------------------------------------- the searched network

#: cell operations by index (all are 3x3 spiking convolutions in the searched cells)
PRIMITIVES = ["skip_connect", "snn_b3", "snn_b5"]


def network_layer_to_space(net_arch: Any) -> np.ndarray:
    """One-hot ``[L, 4, 3]`` encoding of a path of feature levels: entry ``[i, level, k]``
    with ``k`` 0 / 1 / 2 for a level one higher than / equal to / one lower than the last
    (the first layer uses ``k = 0``)."""
    space = np.zeros((len(net_arch), 4, 3))
    for i, level in enumerate(net_arch):
        if i == 0:
            space[0, level, 0] = 1
            continue
        step = int(level) - int(net_arch[i - 1])
        if step not in (1, 0, -1):
            raise ValueError(f"net_arch must change level by at most 1 per layer, got {net_arch!r}")
        space[i, level, 1 - step] = 1
    return space


def _nearest(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Nearest-neighbour resize of ``[T, N, C, H, W]`` to ``size`` (``[H', W']``)."""
    y = F.interpolate(x.flatten(0, 1), size, mode="nearest")
    return y.reshape(*x.shape[:2], *y.shape[1:])


class Cell(nn.Module):
    """A searched SpikeDHS cell: resizes its inputs to the level of ``downup_sample``
    (-1 halves, +1 doubles), runs three :class:`SearchSpikingConv2d_cell` nodes and
    concatenates the last ``block_multiplier`` states over channels. The two columns of
    ``cell_arch`` are sorted independently (as in the reference) before they pick each
    node's input channels."""

    def __init__(
        self,
        steps: int,
        block_multiplier: int,
        prev_prev_fmultiplier: float,
        prev_filter_multiplier: float,
        cell_arch: torch.Tensor,
        network_arch: torch.Tensor,
        filter_multiplier: int,
        downup_sample: int,
        args: Any = None,
    ) -> None:
        super().__init__()
        self.C_in = block_multiplier * filter_multiplier
        self.C_out = filter_multiplier
        self.C_prev = int(block_multiplier * prev_filter_multiplier)
        self.C_prev_prev = int(block_multiplier * prev_prev_fmultiplier)
        self.downup_sample = int(downup_sample)
        self._steps = steps
        self.block_multiplier = block_multiplier
        self.scale = {-1: 0.5, 1: 2}.get(self.downup_sample)
        self.cell_arch = torch.sort(torch.as_tensor(cell_arch, device="cpu"), dim=0)[0].to(
            torch.uint8
        )
        self._ops = nn.ModuleList()
        pair: list[list[Any]] = []
        for i, (src, prim) in enumerate(self.cell_arch.tolist()):
            if src in (0, 2, 5):
                c_in = self.C_prev_prev
            elif src in (1, 3, 6):
                c_in = self.C_prev
            else:
                c_in = self.C_out
            pair.append([c_in, self.C_out, PRIMITIVES[prim]])
            if i % 2 == 1:
                self._ops.append(SearchSpikingConv2d_cell(io_c=pair))
                pair = []
        self.spikes = nn.ModuleList([_dspike_lif() for _ in range(steps)])

    @staticmethod
    def scale_dimension(dim: int, scale: float) -> int:
        return int((float(dim) - 1.0) * scale + 1.0) if dim % 2 == 1 else int(float(dim) * scale)

    def forward(
        self, prev_prev_input: torch.Tensor, prev_input: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        s0, s1 = prev_prev_input, prev_input
        if self.downup_sample != 0:
            size = [self.scale_dimension(s1.shape[d], self.scale) for d in (3, 4)]
            s1 = _nearest(s1, size)
        if s0.shape[3:5] != s1.shape[3:5]:
            s0 = _nearest(s0, list(s1.shape[3:5]))
        states = [s0, s1]
        states.append(self._ops[0](states[0], states[1]))
        states.append(self._ops[1](states[0], states[1]))
        states.append(self._ops[2](states[2], states[3]))
        return prev_input, torch.cat(states[-self.block_multiplier :], dim=2)


class AuxiliaryHeadCIFAR(nn.Module):
    """Auxiliary classifier on ``[T, N, C, H, W]`` (H, W >= 8): spiking 5x5/3 average pool
    -> spiking 1x1 conv (128) -> spiking 2x2 conv (768) -> linear + batch norm."""

    def __init__(self, C: int, num_classes: int) -> None:
        super().__init__()
        self.pooling = SpikingAvgPool2d(kernel_size=5, stride=3, padding=0)
        self.conv1 = SpikingConv2d(C, 128, 1, padding=0, b=3)
        self.conv2 = SpikingConv2d(128, 768, 2, padding=0, b=3)
        self.classifier = SpikingLinear(768, num_classes, spiking=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(self.pooling(x)))
        return self.classifier(y.view(*y.shape[:2], -1))


_FEATURE_ARGS = ("fea_step", "fea_num_layers", "fea_block_multiplier", "fea_filter_multiplier")


class newFeature(nn.Module):
    """SpikeDHS's feature network: a :class:`SearchSpikingConv2d_stem` and one
    :class:`Cell` per layer of ``network_arch`` (levels 0-3 have 1, 2, 4, 8 times
    ``args.fea_filter_multiplier`` channels per block), plus the auxiliary head on the
    sixth cell in training.

    Args:
        frame_rate: input channels.
        network_arch: ``[L, 4, 3]`` path encoding (:func:`network_layer_to_space`).
        cell_arch: ``[6, 2]`` (input, operation) pairs of the cell nodes.
        cell: the cell class.
        args: namespace with ``fea_step``, ``fea_num_layers``, ``fea_block_multiplier``,
            ``fea_filter_multiplier``.
    """

    def __init__(
        self,
        frame_rate: int,
        network_arch: Any,
        cell_arch: Any,
        cell: type[nn.Module] = Cell,
        args: Any = None,
    ) -> None:
        super().__init__()
        missing = [name for name in _FEATURE_ARGS if not hasattr(args, name)]
        if missing:
            raise ValueError(
                f"newFeature: args must have the attributes {_FEATURE_ARGS}, missing {missing} "
                f"in {args!r}"
            )
        self.args = args
        self.cells = nn.ModuleList()
        self.network_arch = torch.from_numpy(np.asarray(network_arch))
        self.cell_arch = torch.from_numpy(np.asarray(cell_arch))
        self._step = args.fea_step
        self._num_layers = args.fea_num_layers
        self._block_multiplier = args.fea_block_multiplier
        self._filter_multiplier = fm = args.fea_filter_multiplier
        self.stem0 = SearchSpikingConv2d_stem(frame_rate, int(fm) * self._block_multiplier, 3, 1, 1)
        self.auxiliary_head = AuxiliaryHeadCIFAR(576, 100)
        width = {0: 1, 1: 2, 2: 4, 3: 8}

        def level(i: int) -> int:  # negative i wraps around, as in the reference
            return int(torch.argmax(torch.sum(self.network_arch[i], dim=1)).item())

        for i in range(self._num_layers):
            if i == 0:
                downup, prev_prev, prev = -level(0), fm, fm
            else:
                downup = int(torch.argmax(torch.sum(self.network_arch[i], dim=0)).item()) - 1
                prev = int(fm * width[level(i - 1)])
                prev_prev = fm if i == 1 else int(fm * width[level(i - 2)])
            self.cells.append(
                cell(
                    self._step,
                    self._block_multiplier,
                    prev_prev,
                    prev,
                    self.cell_arch,
                    self.network_arch[i],
                    int(fm * width[level(i)]),
                    downup,
                    self.args,
                )
            )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        stem = self.stem0(x)
        out = (stem, stem)
        logits_aux = None
        for i in range(self._num_layers):
            out = self.cells[i](out[0], out[1])
            if i == 2 * 8 // 3 and self.training:
                logits_aux = self.auxiliary_head(out[-1])
        return out[-1], (logits_aux if self.training else None)

    def get_params(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """``(every parameter, [])``: the reference's split puts all of them in the first
        list (its batch-norm test selects both branches)."""
        return list(self.parameters()), []


class SpikeDHS(nn.Module):
    """The searched SpikeDHS network for CIFAR (100 classes): a static image
    ``[N, C, H, W]`` is repeated over 6 steps, runs through :class:`newFeature` (path
    ``[0, 0, 1, 1, 1, 2, 2, 2]``), a spiking global pool and a linear + batch-norm
    classifier; returns ``(logits, logits_aux)`` averaged over time (``logits_aux`` is
    ``None`` in evaluation). Call ``snn_core.functional.set_step_mode(net, 'm')`` first, as
    with the reference; ``args.fea_block_multiplier * args.fea_filter_multiplier`` must be
    144 (the heads take 576 channels), e.g. 3 and 48.

    Args:
        init_channels: input channels.
        args: as :class:`newFeature`.
    """

    def __init__(self, init_channels: int = 3, args: Any = None) -> None:
        super().__init__()
        network_arch = network_layer_to_space(np.array([0, 0, 1, 1, 1, 2, 2, 2]))
        cell_arch = np.array([[1, 1], [0, 1], [3, 2], [2, 1], [7, 1], [8, 1]])
        self.feature = newFeature(init_channels, network_arch, cell_arch, args=args)
        self.global_pooling = SpikingAdaptiveAvgPool2d(1)
        self.classifier = SpikingLinear(576, 100, spiking=False)
        self._time_step = 6

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())

    def forward(self, input: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if input.dim() != 4:
            raise ValueError(
                f"SpikeDHS: input must be an image batch [N, C, H, W], got shape "
                f"{tuple(input.shape)}"
            )
        x = input.expand(self._time_step, -1, -1, -1, -1)
        feature_out, logits_aux = self.feature(x)
        pooled = self.global_pooling(feature_out)
        logits = self.classifier(pooled.view(*pooled.shape[:2], -1)).mean(0)
        if logits_aux is not None:
            logits_aux = logits_aux.mean(0)
        return logits, (logits_aux if self.training else None)

    def dgs_freeze_weights(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)

    def dgs_unfreeze_weights(self) -> None:
        for p in self.parameters():
            p.requires_grad_(True)
