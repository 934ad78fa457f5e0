r"""Rate-coding conversion: each ReLU becomes ``λ · IF(x / λ)``.

A ReLU whose calibrated activation scale is ``λ`` (see
:class:`~snn_layers.ann2snn.modules.VoltageHook`) is replaced by

.. math::
    y[t] = λ \, S[t], \qquad S[t] = \mathrm{IF}_{V_{th}}\!\left(\frac{V_{th}}{λ} x[t]\right)

an IF neuron with soft reset (``v_reset=None``) between two
:class:`~snn_layers.ann2snn.modules.VoltageScaler` modules, so the mean of ``y`` over ``T``
steps tends to ``clamp(x, 0, λ)`` for a constant input (Rueckauer et al., Front. Neurosci.
2017; threshold balancing, Diehl et al., IJCNN 2015). With ``channel_wise=True`` each
channel gets its own ``λ_c`` (:class:`ChannelVoltageScaler`), optionally with
half-threshold initialisation (Bu et al., ICLR 2022) and max pooling moved before the
neurons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from snn_neurons import HalfThresholdIFNode, IFNode
from torch import fx, nn

from snn_layers.ann2snn.modules import (
    ChannelVoltageScaler,
    VoltageHook,
    VoltageScaler,
    _safe_quantile,
    parse_mode,
)
from snn_layers.ann2snn.recipes._graph import (
    batch_to_tensor,
    check_no_other_activation,
    extract_batch_input,
    fuse_conv_bn,
    is_relu_node,
    normalize_relu_calls,
    progress,
)
from snn_layers.ann2snn.recipes.base import ConversionRecipe
from snn_layers.ann2snn.recipes.step_mode_adapters import adapt_step_mode_graph

if TYPE_CHECKING:  # pragma: no cover
    from snn_layers.ann2snn.converter import FXConverter

__all__ = ["RateCodingRecipe", "ChannelVoltageHook"]

# the reference's private names, kept for code that imports them
_extract_batch_input = extract_batch_input
_fuse_conv_bn = fuse_conv_bn


def validate_rate_coding_mode(mode: str | float) -> None:
    """Raise ``NotImplementedError`` unless ``mode`` is ``'max'``, ``'p%'`` or in (0, 1]."""
    parse_mode(mode)


def add_module_and_node(
    fx_model: fx.GraphModule, target: str, after: fx.Node, module: nn.Module, args: tuple
) -> fx.Node:
    """Register ``module`` at ``target`` and call it on ``args`` right after ``after``."""
    fx_model.add_submodule(target, module)
    with fx_model.graph.inserting_after(after):
        return fx_model.graph.call_module(target, args=args)


def neuron_threshold(spiking_neuron: nn.Module) -> Any:
    """The scalar ``v_threshold`` of a neuron (1.0 when it has none)."""
    th = getattr(spiking_neuron, "v_threshold", 1.0)
    if isinstance(th, torch.Tensor) and th.numel() == 1:
        th = th.item()
    return th


class ChannelVoltageHook(nn.Module):
    """Identity recording one activation scale per channel.

    Each call takes ``relu(x)`` per channel of ``channel_dim``, computes the batch's
    maximum, ``p``-quantile or ``mode * max`` per channel (as :class:`VoltageHook`), clamps
    it to at least ``eps`` and averages batches with ``momentum`` (the first batch sets it).

    Args:
        mode: ``'Max'``, ``'p%'`` or a float in ``(0, 1]``.
        momentum: weight of a new batch.
        channel_dim: the channel dimension of ``[N, *]`` inputs.
        eps: lower bound of a channel's scale.
    """

    def __init__(
        self, mode: str | float = "Max", momentum: float = 0.1, channel_dim: int = 1,
        eps: float = 1e-6,
    ) -> None:  # fmt: skip
        super().__init__()
        self.mode = mode
        self.momentum = momentum
        self.channel_dim = channel_dim
        self.eps = eps
        self.register_buffer("scale", torch.empty(0))
        self.num_batches_tracked = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2:
            raise ValueError(
                "Channel-wise rate calibration requires activation tensors with at least 2 "
                f"dimensions, got shape {tuple(x.shape)}."
            )
        dim = self.channel_dim + x.dim() if self.channel_dim < 0 else self.channel_dim
        if not 0 <= dim < x.dim():
            raise ValueError(
                f"channel_dim={self.channel_dim} is out of range for {tuple(x.shape)}."
            )
        kind, value = parse_mode(self.mode)
        stat = torch.clamp(x.detach(), min=0)
        if stat.dtype in (torch.float16, torch.bfloat16):
            stat = stat.float()
        per_channel = stat.movedim(dim, 0).reshape(stat.shape[dim], -1)
        if kind == "quantile":
            s = _safe_quantile(per_channel, value, dim=1)
        else:
            s = per_channel.max(dim=1).values * (value if kind == "fraction" else 1.0)
        s = torch.clamp(s.to(device=x.device, dtype=x.dtype), min=self.eps)
        if self.num_batches_tracked == 0:
            self.scale = s
        else:
            old = self.scale.to(device=x.device, dtype=x.dtype)
            self.scale = ((1 - self.momentum) * old + self.momentum * s).detach()
        self.num_batches_tracked += x.shape[0]
        return x

    def compute_threshold(self) -> torch.Tensor:
        """The recorded per-channel scales (an error before any calibration batch)."""
        if self.scale.numel() == 0:
            raise ValueError("No calibration activations have been recorded.")
        if not torch.isfinite(self.scale).all() or (self.scale <= 0).any():
            raise ValueError("Channel-wise thresholds must be finite positive values.")
        return self.scale.detach()


class RateCodingRecipe(ConversionRecipe):
    r"""Convert ReLU networks to IF networks by rate coding (calibrated thresholds).

    Steps: ``eval()`` the ANN; trace; fold Conv-BN pairs (``fuse_flag``); turn
    ``F.relu`` / ``torch.relu`` / ``x.relu()`` calls into ReLU modules; insert a
    :class:`VoltageHook` (or :class:`ChannelVoltageHook`) after every ReLU; run the
    calibration batches (one statistic per batch, averaged with ``momentum``: memory does
    not grow with the data); replace ``ReLU`` + hook by ``scaler0 -> neuron -> scaler1``;
    make stateless layers follow ``functional.set_step_mode``. Activations other than ReLU
    and layers without a step-mode form are errors naming the node.

    Args:
        dataloader: calibration batches: tensors (or numpy arrays), ``(input, target)``
            tuples / lists, or dicts with an ``'input'`` / ``'image'`` / ``'images'`` /
            ``'img'`` / ``'x'`` / ``'data'`` / ``'pixel_values'`` entry.
        mode: ``'Max'`` (batch maximum), a percentile string like ``'99.9%'``
            (:func:`torch.quantile` of each batch) or a float in ``(0, 1]`` times the maximum.
        momentum: weight of a new batch's statistic in the running scale.
        fuse_flag: fold BatchNorm into the preceding convolution.
        channel_wise: one scale per channel (along ``channel_dim``) instead of per layer.
        channel_dim: channel dimension for ``channel_wise``.
        pre_spike_maxpool: with ``channel_wise``, apply a ``ReLU -> MaxPool2d``'s pooling
            before the neurons.
        half_threshold: with ``channel_wise``, use :class:`~snn_neurons.HalfThresholdIFNode`.
        eps: lower bound of channel-wise scales.
        neuron_factory: ``callable(scale) -> neuron`` (e.g. a
            :class:`~snn_layers.ann2snn.NeuronFactory`); default ``IFNode(v_reset=None)``.
    """

    def __init__(
        self,
        dataloader: Iterable,
        mode: str | float = "Max",
        momentum: float = 0.1,
        fuse_flag: bool = True,
        channel_wise: bool = False,
        channel_dim: int = 1,
        pre_spike_maxpool: bool = False,
        half_threshold: bool = False,
        eps: float = 1e-6,
        neuron_factory: Callable[[float], nn.Module] | None = None,
    ) -> None:
        self.dataloader = dataloader
        self.mode = mode
        self.momentum = momentum
        self.fuse_flag = fuse_flag
        self.channel_wise = channel_wise
        self.channel_dim = channel_dim
        self.pre_spike_maxpool = pre_spike_maxpool
        self.half_threshold = half_threshold
        self.eps = eps
        if channel_wise and half_threshold and neuron_factory is not None:
            raise ValueError(
                "RateCodingRecipe(channel_wise=True, half_threshold=True) does not support "
                "custom neuron_factory."
            )
        self.neuron_factory = neuron_factory

    # ---------------------------------------------------------------- pipeline steps
    def validate(self, converter: FXConverter | None) -> None:
        if self.dataloader is None:
            raise ValueError(
                "RateCodingRecipe requires a dataloader. Pass dataloader to RateCodingRecipe."
            )
        validate_rate_coding_mode(self.mode)
        m = self.momentum
        if (
            isinstance(m, bool)
            or not isinstance(m, (int, float))
            or not math.isfinite(float(m))
            or not 0.0 <= m <= 1.0
        ):
            raise ValueError(f"momentum must be a finite number in [0, 1], got {m!r}.")
        for name in ("channel_wise", "pre_spike_maxpool", "half_threshold"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be bool, got {getattr(self, name)!r}.")
        if isinstance(self.channel_dim, bool) or not isinstance(self.channel_dim, int):
            raise ValueError(f"channel_dim must be int, got {self.channel_dim!r}.")
        if isinstance(self.eps, bool) or not isinstance(self.eps, (int, float)) or self.eps <= 0:
            raise ValueError(f"eps must be a positive number, got {self.eps!r}.")

    def before_trace(self, converter: FXConverter, ann: nn.Module) -> nn.Module:
        ann.eval()
        return ann

    def after_trace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        fx_model = fuse_conv_bn(fx_model, fuse_flag=self.fuse_flag)
        fx_model = normalize_relu_calls(fx_model)
        check_no_other_activation(fx_model, type(self).__name__)
        return fx_model.to(converter.device)

    def insert_observers(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        return self._set_voltagehook(fx_model).to(converter.device)

    def calibrate(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        name = type(self).__name__
        with torch.no_grad():
            for data in progress(self.dataloader, f"{name} calibration"):
                fx_model(batch_to_tensor(data, converter.device, name))
        return fx_model

    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        fx_model = self._replace_by_neurons(fx_model)
        fx_model = adapt_step_mode_graph(
            fx_model,
            context=f"{type(self).__name__} step-mode backend",
            safe_call_functions=(F.dropout,),
        )
        return fx_model.to(converter.device)

    # ---------------------------------------------------------------- graph surgery
    def _set_voltagehook(self, fx_model: fx.GraphModule) -> fx.GraphModule:
        counts: dict[str, int] = {}
        modules = dict(fx_model.named_modules())
        for node in list(fx_model.graph.nodes):
            if not is_relu_node(node, modules):
                continue
            parent = node.target.rpartition(".")[0]
            counter = counts.get(parent, 0)
            counts[parent] = counter + 1
            if self.channel_wise:
                leaf = f"{self._channel_hook_leaf}{counter}"
                hook: nn.Module = self._new_channel_hook()
            else:
                leaf = f"voltage_hook_{counter}"
                hook = self._new_layer_hook()
            target = f"{parent}.{leaf}" if parent else leaf
            hook_input = node
            users = list(node.users)
            if self.channel_wise and self.pre_spike_maxpool and len(users) == 1:
                user = users[0]
                if user.op == "call_module" and isinstance(modules.get(user.target), nn.MaxPool2d):
                    hook_input = user
            hook_node = add_module_and_node(fx_model, target, hook_input, hook, (hook_input,))
            if self.channel_wise:
                for user in list(hook_input.users):
                    if user is not hook_node:
                        user.replace_input_with(hook_input, hook_node)
            modules[target] = hook
        fx_model.graph.lint()
        fx_model.recompile()
        return fx_model

    def _replace_by_neurons(self, fx_model: fx.GraphModule) -> fx.GraphModule:
        modules = dict(fx_model.named_modules())
        for hook_node in list(fx_model.graph.nodes):
            if hook_node.op != "call_module" or not hook_node.args:
                continue
            hook = modules.get(hook_node.target)
            hook_input = hook_node.args[0]
            if not isinstance(hook_input, fx.Node):
                continue
            if self.channel_wise and isinstance(hook, self._channel_hook_type):
                act = hook_input
                if not is_relu_node(act, modules):
                    if not isinstance(modules.get(act.target), nn.MaxPool2d) or not act.args:
                        continue
                    act = act.args[0]
                    if not isinstance(act, fx.Node) or not is_relu_node(act, modules):
                        continue
                self._replace_channelwise(fx_model, act, hook_node, hook)
            elif not self.channel_wise and isinstance(hook, VoltageHook):
                if is_relu_node(hook_input, modules):
                    self._replace_layerwise(fx_model, hook_input, hook_node, hook)
        fx_model.graph.lint()
        fx_model.delete_all_unused_submodules()
        fx_model.recompile()
        left = [
            n.target
            for n in fx_model.graph.nodes
            if is_relu_node(n, dict(fx_model.named_modules()))
        ]
        if left:
            raise ValueError(
                f"{type(self).__name__}: ReLU node(s) {left} were not converted (no calibration "
                "hook was attached to them)."
            )
        return fx_model

    _channel_hook_leaf = "channel_voltage_hook_"
    _channel_spike_leaf = "channel_spiking_"
    _channel_hook_type: type[nn.Module] = ChannelVoltageHook

    def _new_channel_hook(self) -> nn.Module:
        return ChannelVoltageHook(self.mode, self.momentum, self.channel_dim, self.eps)

    def _new_neuron(self, scale: float) -> nn.Module:
        return IFNode(v_reset=None) if self.neuron_factory is None else self.neuron_factory(scale)

    def _new_layer_hook(self) -> nn.Module:
        return VoltageHook(momentum=self.momentum, mode=self.mode)

    def _make_spiking_parts(self, hook: nn.Module, where: str) -> tuple[nn.Module, ...]:
        """``(scaler0, neuron, scaler1)`` replacing the ReLU calibrated by ``hook``."""
        if not self.channel_wise:
            scale = float(hook.scale.item())
            if not scale > 0.0 or not math.isfinite(scale):
                raise ValueError(
                    f"Threshold must be a finite positive number, got {scale} for hook "
                    f"{where!r} (its ReLU never saw a positive activation during calibration?)."
                )
            spiking = self._new_neuron(scale)
            th = neuron_threshold(spiking)
            return VoltageScaler(th / scale), spiking, VoltageScaler(scale)
        threshold = hook.compute_threshold()
        if self.half_threshold:
            th: Any = 1.0
            spiking = HalfThresholdIFNode()
        else:
            spiking = self._new_neuron(1.0)
            th = neuron_threshold(spiking)
            if isinstance(th, bool) or not isinstance(th, (int, float)):
                raise ValueError(
                    "Channel-wise RateCodingRecipe requires a scalar neuron threshold."
                )
            if not th > 0.0 or not math.isfinite(th):
                raise ValueError(
                    "Channel-wise RateCodingRecipe requires a finite positive neuron "
                    f"threshold, got {th}."
                )
        return (
            ChannelVoltageScaler(th / threshold, channel_dim=self.channel_dim),
            spiking,
            ChannelVoltageScaler(threshold, channel_dim=self.channel_dim),
        )

    def _insert_parts(
        self, fx_model: fx.GraphModule, prefix: str, after: fx.Node, parts: tuple, args: tuple
    ) -> fx.Node:
        n0 = add_module_and_node(fx_model, f"{prefix}.scaler0", after, parts[0], args)
        n1 = add_module_and_node(fx_model, f"{prefix}.if_node", n0, parts[1], (n0,))
        return add_module_and_node(fx_model, f"{prefix}.scaler1", n1, parts[2], (n1,))

    def _replace_layerwise(
        self, fx_model: fx.GraphModule, act: fx.Node, hook_node: fx.Node, hook: VoltageHook
    ) -> None:
        parts = self._make_spiking_parts(hook, hook_node.target)
        parent, _, leaf = hook_node.target.rpartition(".")
        leaf = leaf.replace("voltage_hook_", "spiking_")
        prefix = f"{parent}.{leaf}" if parent else leaf
        n2 = self._insert_parts(fx_model, prefix, hook_node, parts, act.args)
        hook_node.replace_all_uses_with(n2)
        act.replace_all_uses_with(n2)
        fx_model.graph.erase_node(hook_node)
        fx_model.graph.erase_node(act)

    def _replace_channelwise(
        self, fx_model: fx.GraphModule, act: fx.Node, hook_node: fx.Node, hook: nn.Module
    ) -> None:
        hook_input = hook_node.args[0]
        pooled_first = hook_input is not act
        if pooled_first:
            hook_input.replace_input_with(act, act.args[0])
        parts = self._make_spiking_parts(hook, hook_node.target)
        parent, _, leaf = hook_node.target.rpartition(".")
        leaf = leaf.replace(self._channel_hook_leaf, self._channel_spike_leaf)
        prefix = f"{parent}.{leaf}" if parent else leaf
        args = (hook_input,) if pooled_first else act.args
        n2 = self._insert_parts(fx_model, prefix, hook_node, parts, args)
        hook_node.replace_all_uses_with(n2)
        fx_model.graph.erase_node(hook_node)
        if not pooled_first:
            act.replace_all_uses_with(n2)
        fx_model.graph.erase_node(act)

    def convert_untraceable(self, converter: FXConverter, ann: nn.Module, reason: str) -> nn.Module:
        """Fallback of :meth:`FXConverter.convert` when ``torch.fx`` cannot trace ``ann``:
        module replacement of its ``nn.ReLU`` modules (see
        :mod:`snn_layers.ann2snn.recipes._module_fallback`)."""
        from snn_layers.ann2snn.recipes._module_fallback import convert_by_module_replacement

        return convert_by_module_replacement(self, converter.device, ann, reason)
