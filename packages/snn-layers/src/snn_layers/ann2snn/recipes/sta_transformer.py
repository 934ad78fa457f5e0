r"""Spatio-Temporal Approximation (STA) conversion of transformers.

Jiang et al., "Spatio-Temporal Approximation: A Training-Free SNN Conversion for
Transformers", ICLR 2024. Every ``Linear`` / ``Conv2d`` / ``LayerNorm`` / ``GELU`` /
``MultiheadAttention`` module becomes its :mod:`~snn_layers.ann2snn.operators` TD twin and
every floating tensor constant of the graph an :class:`_STAConstant` (the value at the first
step, zeros after), so that fed increments ``x[t]`` the converted network's cumulative
output ``Σ_{τ≤t} y[τ]`` equals the ANN on ``Σ_{τ≤t} x[τ]`` (``mode='equivalent'``). With
``mode='spiking_encoder'``, the outputs of LayerNorm, GELU and attention go through a
calibrated burst spike encoder (see :mod:`~snn_layers.ann2snn.recipes.sta_modules`).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.utils._pytree import tree_map

from snn_layers.ann2snn.operators import TDMultiheadAttention, _td_module_from_ann
from snn_layers.ann2snn.recipes._graph import progress
from snn_layers.ann2snn.recipes._sta_graph import (
    check_sequence_contract,
    harden_tensor_ops,
    namedtuple_constructors,
)
from snn_layers.ann2snn.recipes.base import ConversionRecipe, replace_submodule
from snn_layers.ann2snn.recipes.sta_modules import (
    _make_td_multihead_attention,
    _STAConstant,
    _STASpikeEncoder,
    _STAThresholdObserver,
)
from snn_layers.ann2snn.recipes.step_mode_adapters import adapt_step_mode_graph

if TYPE_CHECKING:  # pragma: no cover
    from snn_layers.ann2snn.converter import FXConverter

__all__ = ["STATransformerRecipe"]

#: keyword arguments that carry masks: tensors passed there are not streamed over time
_STATIC_TENSOR_KWARGS = frozenset(
    {
        "attention_mask", "attn_mask", "causal_mask", "decoder_attention_mask",
        "encoder_attention_mask", "key_padding_mask", "mask", "padding_mask",
    }
)  # fmt: skip
_MODES = ("equivalent", "spiking_encoder", "spiking_affine")
_HEAD_NAMES = frozenset({"head", "heads", "classifier"})
_MHA_ARG_NAMES = (
    "query", "key", "value", "key_padding_mask", "need_weights", "attn_mask",
    "average_attn_weights", "is_causal",
)  # fmt: skip


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _mha_argument(node: fx.Node, name: str) -> Any:
    if name in node.kwargs:
        return node.kwargs[name]
    position = _MHA_ARG_NAMES.index(name)
    return node.args[position] if len(node.args) > position else None


class STATransformerRecipe(ConversionRecipe):
    r"""Training-free STA conversion of a transformer (Jiang et al., ICLR 2024).

    ``Converter(STATransformerRecipe(...)).convert(ann)`` traces ``ann`` in ``eval`` mode
    and returns an ``fx.GraphModule`` of TD operators (see the module doc). With
    ``functional.set_step_mode(net, 's')`` it is called once per step on increments
    ``x[t]``; in ``'m'`` mode it takes ``[T, N, *]``. The readout is explicit: the sum of
    the outputs over time equals the ANN's output on the summed input.

    ``mode``: ``'equivalent'`` (no calibration; exact cumulative equivalence),
    ``'spiking_encoder'`` (burst spike encoders after LayerNorm, GELU and attention, with
    thresholds calibrated on ``dataloader``: ``threshold_mode`` ``'mse'`` or ``'max'``,
    times ``threshold_scale``, averaged with ``momentum``). ``'spiking_affine'``,
    ``spike_linear=True`` and ``spike_conv2d=True`` are validated but refused by this
    step-mode backend, as in the reference.

    Args:
        dataloader: calibration batches (a tensor, ``(input, target)``, ``((inputs...),
            kwargs)`` or a kwargs dict); needed when calibration is on.
        time_steps: ``T``, used by the threshold search and by graph constants in ``'m'``.
        mode: ``'equivalent'``, ``'spiking_encoder'`` or ``'spiking_affine'``.
        threshold_mode: ``'mse'`` or ``'max'`` (case-insensitive).
        threshold_scale: positive factor on calibrated thresholds.
        spike_linear: spiking-affine Linear layers (``None``: ``mode == 'spiking_affine'``).
        spike_conv2d: spiking-affine Conv2d layers (``None``: ``False``).
        spike_classifier: also the classifier head (``head``/``heads``/``classifier``).
        momentum: observer momentum in ``[0, 1]``.
        num_calibration_batches: at most this many batches (``None``: all).
        show_progress: show a calibration progress bar.
        eps: lower bound of thresholds.
    """

    def __init__(
        self,
        dataloader: Iterable | None = None,
        time_steps: int = 32,
        mode: str = "equivalent",
        threshold_mode: str = "mse",
        threshold_scale: float = 1.0,
        spike_linear: bool | None = None,
        spike_conv2d: bool | None = None,
        spike_classifier: bool = False,
        momentum: float = 0.1,
        num_calibration_batches: int | None = None,
        show_progress: bool = False,
        eps: float = 1e-6,
    ) -> None:
        self.dataloader = dataloader
        self.time_steps = time_steps
        self.mode = mode
        self.threshold_mode = (
            threshold_mode.lower() if isinstance(threshold_mode, str) else threshold_mode
        )
        self.threshold_scale = threshold_scale
        self.spike_linear = mode == "spiking_affine" if spike_linear is None else spike_linear
        self.spike_conv2d = False if spike_conv2d is None else spike_conv2d
        self.spike_classifier = spike_classifier
        self.momentum = momentum
        self.num_calibration_batches = num_calibration_batches
        self.show_progress = show_progress
        self.eps = eps
        self._observers: dict[str, _STAThresholdObserver] = {}
        self._hook_handles: list[torch.utils.hooks.RemovableHandle] = []

    # ------------------------------------------------------------------ pipeline
    def validate(self, converter: FXConverter | None) -> None:
        calibrates = self.mode == "spiking_encoder" or self.spike_linear or self.spike_conv2d
        if calibrates and self.dataloader is None:
            raise ValueError(
                "STATransformerRecipe requires a dataloader when calibration is enabled "
                f"(mode={self.mode!r}, spike_linear={self.spike_linear!r}, "
                f"spike_conv2d={self.spike_conv2d!r}); pass dataloader=..."
            )
        t = self.time_steps
        if not isinstance(t, int) or isinstance(t, bool) or t <= 0:
            raise ValueError(f"time_steps must be a positive integer, got {t!r}.")
        if not isinstance(self.mode, str) or self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}.")
        if not isinstance(self.threshold_mode, str) or self.threshold_mode not in ("mse", "max"):
            raise ValueError(f"threshold_mode must be 'mse' or 'max', got {self.threshold_mode!r}.")
        s = self.threshold_scale
        if not _is_number(s) or s <= 0 or not math.isfinite(s):
            raise ValueError(f"threshold_scale must be a positive finite number, got {s!r}.")
        for name in ("spike_linear", "spike_conv2d", "spike_classifier"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be bool, got {getattr(self, name)!r}.")
        if self.mode == "spiking_affine" or self.spike_linear or self.spike_conv2d:
            raise ValueError(
                "STATransformerRecipe step-mode backend supports only the 'equivalent' and "
                "'spiking_encoder' modes, without spiking affine Linear/Conv2d replacements "
                f"(got mode={self.mode!r}, spike_linear={self.spike_linear}, "
                f"spike_conv2d={self.spike_conv2d})."
            )
        m = self.momentum
        if not _is_number(m) or not 0.0 <= m <= 1.0:
            raise ValueError(f"momentum must be a number in [0, 1], got {m!r}.")
        n = self.num_calibration_batches
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n <= 0):
            raise ValueError(f"num_calibration_batches must be a positive int or None, got {n!r}.")
        if not isinstance(self.show_progress, bool):
            raise ValueError(f"show_progress must be bool, got {self.show_progress!r}.")
        e = self.eps
        if not _is_number(e) or e <= 0 or not math.isfinite(e):
            raise ValueError(f"eps must be a positive finite number, got {e!r}.")

    def before_trace(self, converter: FXConverter, ann: nn.Module) -> nn.Module:
        ann.eval()
        return ann

    def insert_observers(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        self._remove_hooks()
        self._observers = {}
        modules = dict(fx_model.named_modules())
        for node in fx_model.graph.nodes:
            if node.op != "call_module" or not isinstance(node.target, str):
                continue
            channel_dim = self._observed_channel_dim(node.target, modules.get(node.target))
            if channel_dim is None:
                continue
            observer = _STAThresholdObserver(
                self.time_steps, channel_dim, self.threshold_mode, self.momentum, self.eps
            )
            self._observers[node.target] = observer
            hook = modules[node.target].register_forward_hook(
                lambda _m, _i, out, obs=observer: obs(out)
            )
            self._hook_handles.append(hook)
        return fx_model

    def calibrate(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        if not self._observers:
            return fx_model
        fx_model.eval()
        batches = self.dataloader
        if self.show_progress:
            batches = progress(batches, "STA calibration")
        try:
            with torch.no_grad():
                for index, batch in enumerate(batches):
                    limit = self.num_calibration_batches
                    if limit is not None and index >= limit:
                        break
                    args, kwargs = self._batch_to_args(batch, converter.device)
                    fx_model(*args, **kwargs)
        finally:
            self._remove_hooks()
        return fx_model

    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        return self._replace_sequence(fx_model)

    def finalize(self, converter: FXConverter, fx_model: fx.GraphModule) -> nn.Module:
        object.__setattr__(fx_model, "time_steps", self.time_steps)
        return fx_model

    # ------------------------------------------------------------------ replacement
    def _replace_sequence(self, fx_model: fx.GraphModule) -> fx.GraphModule:
        self._remove_hooks()
        modules = dict(fx_model.named_modules())
        for node in fx_model.graph.nodes:  # affine layers first: they are not constants
            module = modules.get(node.target) if node.op == "call_module" else None
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                replacement = _td_module_from_ann(module)
                replace_submodule(fx_model, node.target, replacement)
                modules[node.target] = replacement
        self._wrap_time_constants(fx_model)
        modules = dict(fx_model.named_modules())
        for node in list(fx_model.graph.nodes):
            module = modules.get(node.target) if node.op == "call_module" else None
            if isinstance(module, (nn.LayerNorm, nn.GELU)):
                replacement = _td_module_from_ann(module)
            elif isinstance(module, nn.MultiheadAttention):
                self._validate_sequence_mha_node(node)
                replacement = _make_td_multihead_attention(module)
                self._normalize_mha_call(node)
            else:
                continue
            threshold = self._compute_scaled_threshold(self._observers.get(node.target))
            replace_submodule(fx_model, node.target, replacement)
            modules[node.target] = replacement
            if threshold is None:
                continue
            if isinstance(replacement, TDMultiheadAttention):
                target = self._insert_sequence_mha_output_encoder(fx_model, node, threshold)
            else:
                target = self._insert_sequence_encoder(fx_model, node, threshold, -1)
            modules[target] = fx_model.get_submodule(target)
        context = "STATransformerRecipe step-mode backend"
        check_sequence_contract(fx_model, context)
        adapted = adapt_step_mode_graph(
            fx_model,
            context=context,
            wrap_module_types=(),
            safe_module_types=(nn.Dropout, nn.Dropout2d),
            safe_call_functions=namedtuple_constructors(fx_model),
        )
        return harden_tensor_ops(adapted)

    def _observed_channel_dim(self, target: str, module: nn.Module | None) -> int | None:
        if isinstance(module, nn.Linear):
            return -1 if self._should_spike_linear(target) else None
        if isinstance(module, nn.Conv2d):
            return 1 if self.spike_conv2d else None
        observed = (nn.LayerNorm, nn.GELU, nn.MultiheadAttention)
        if self.mode == "spiking_encoder" and isinstance(module, observed):
            return -1
        return None

    def _should_spike_linear(self, target: str) -> bool:
        if not self.spike_linear:
            return False
        return self.spike_classifier or not any(p in _HEAD_NAMES for p in target.split("."))

    def _compute_scaled_threshold(
        self, observer: _STAThresholdObserver | None
    ) -> torch.Tensor | None:
        if observer is None:
            return None
        if observer.threshold is None:
            raise RuntimeError(
                "STA threshold observer did not collect calibration data; check that the "
                "dataloader yields batches that reach this module."
            )
        return observer.compute_threshold() * self.threshold_scale

    def _remove_hooks(self) -> None:
        for handle in self._hook_handles:
            handle.remove()
        self._hook_handles = []

    # ------------------------------------------------------------------ attention
    @staticmethod
    def _mha_need_weights_argument(node: fx.Node) -> Any:
        return _mha_argument(node, "need_weights")

    @staticmethod
    def _mha_key_padding_mask_argument(node: fx.Node) -> Any:
        return _mha_argument(node, "key_padding_mask")

    @staticmethod
    def _mha_attention_weights_output_is_used(node: fx.Node) -> bool:
        return any(
            user.op == "call_function"
            and user.target is operator.getitem
            and len(user.args) >= 2
            and user.args[1] == 1
            and len(user.users) > 0
            for user in node.users
        )

    @staticmethod
    def _validate_sequence_mha_node(node: fx.Node) -> None:
        where = f"(MultiheadAttention node {node.target!r})"
        if STATransformerRecipe._mha_key_padding_mask_argument(node) is not None:
            raise ValueError(
                f"STATransformerRecipe step-mode backend does not support key_padding_mask "
                f"{where}; mask the input tensors directly or pass attn_mask instead."
            )
        need_weights = STATransformerRecipe._mha_need_weights_argument(node)
        if need_weights is True:
            raise ValueError(
                f"STATransformerRecipe step-mode backend requires need_weights=False {where}; "
                "attention weights have no spiking counterpart."
            )
        if need_weights not in (None, False):
            raise ValueError(
                f"STATransformerRecipe step-mode backend only supports a literal "
                f"need_weights=False {where}, got {need_weights!r}."
            )
        if need_weights is None and STATransformerRecipe._mha_attention_weights_output_is_used(
            node
        ):
            raise ValueError(
                f"STATransformerRecipe step-mode backend does not support using the attention "
                f"weights {where}; pass need_weights=False."
            )

    @staticmethod
    def _normalize_mha_call(node: fx.Node) -> None:
        """Rewrite an ``nn.MultiheadAttention`` call into :class:`TDMultiheadAttention`'s
        signature: ``(query, key, value, attn_mask=..., is_causal=...)``."""
        args = tuple(_mha_argument(node, name) for name in ("query", "key", "value"))
        kwargs: dict[str, Any] = {}
        for name in ("attn_mask", "is_causal", "average_attn_weights"):
            value = _mha_argument(node, name)
            if value is not None:
                kwargs[name] = value
        node.args, node.kwargs = args, kwargs

    # ------------------------------------------------------------------ encoders
    @staticmethod
    def _insert_sequence_encoder(
        fx_model: fx.GraphModule, node: fx.Node, threshold: torch.Tensor, channel_dim: int
    ) -> str:
        existing = dict(fx_model.named_modules())
        base = node.target if isinstance(node.target, str) else node.name
        target, index = f"{base}_sta_encoder", 0
        while target in existing:
            index += 1
            target = f"{base}_sta_encoder_{index}"
        fx_model.add_submodule(
            target, _STASpikeEncoder(threshold, channel_dim=channel_dim, step_mode="m")
        )
        with fx_model.graph.inserting_after(node):
            encoded = fx_model.graph.call_module(target, args=(node,))
        for user in list(node.users):
            if user is not encoded:
                user.replace_input_with(node, encoded)
        return target

    @staticmethod
    def _insert_sequence_mha_output_encoder(
        fx_model: fx.GraphModule, node: fx.Node, threshold: torch.Tensor
    ) -> str:
        for user in node.users:
            if (
                user.op == "call_function"
                and user.target is operator.getitem
                and len(user.args) >= 2
                and user.args[1] == 0
            ):
                return STATransformerRecipe._insert_sequence_encoder(
                    fx_model, user, threshold, channel_dim=-1
                )
        raise ValueError(
            "STATransformerRecipe step-mode backend with mode='spiking_encoder' requires the "
            f"output of MultiheadAttention node {node.target!r} to be unpacked "
            "(out, _ = attn(...)) before use."
        )

    # ------------------------------------------------------------------ calibration data
    @staticmethod
    def _batch_to_args(batch: Any, device: torch.device) -> tuple[tuple[Any, ...], dict]:
        move = STATransformerRecipe._to_device
        if isinstance(batch, dict):
            return (), {key: move(value, device) for key, value in batch.items()}
        if isinstance(batch, (tuple, list)):
            if len(batch) == 0:
                raise ValueError("Calibration batch must not be empty.")
            if isinstance(batch[0], (tuple, list)):
                args = tuple(move(value, device) for value in batch[0])
                has_kwargs = len(batch) > 1 and isinstance(batch[1], dict)
                return args, (move(batch[1], device) if has_kwargs else {})
            return (move(batch[0], device),), {}
        return (move(batch, device),), {}

    @staticmethod
    def _to_device(value: Any, device: torch.device) -> Any:
        return tree_map(lambda v: v.to(device) if isinstance(v, torch.Tensor) else v, value)

    # ------------------------------------------------------------------ graph constants
    @staticmethod
    def _get_attr_value(fx_model: fx.GraphModule, target: str) -> Any:
        value: Any = fx_model
        for atom in target.split("."):
            value = getattr(value, atom)
        return value

    def _wrap_time_constants(self, fx_model: fx.GraphModule) -> None:
        """Replace each floating tensor constant fed to streamed data by an
        :class:`_STAConstant` (masks and functional weights stay static)."""
        modules = dict(fx_model.named_modules())
        existing = set(modules)
        index = 0
        for node in list(fx_model.graph.nodes):
            if node.op != "get_attr" or not isinstance(node.target, str):
                continue
            value = self._get_attr_value(fx_model, node.target)
            if not isinstance(value, torch.Tensor) or not value.is_floating_point():
                continue
            if self._is_static_control_attr(node, modules) or (
                self._is_functional_parameter_attr(node)
            ):
                continue
            while f"sta_time_constant_{index}" in existing:
                index += 1
            target = f"sta_time_constant_{index}"
            index += 1
            fx_model.add_submodule(target, _STAConstant(value, self.time_steps))
            existing.add(target)
            with fx_model.graph.inserting_after(node):
                constant = fx_model.graph.call_module(target, args=())
            for user in list(node.users):
                user.replace_input_with(node, constant)
            fx_model.graph.erase_node(node)

    @staticmethod
    def _is_static_control_attr(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
        for user in node.users:
            if STATransformerRecipe._is_static_control_arg(user, node, modules):
                return True
            if any(k in _STATIC_TENSOR_KWARGS and v is node for k, v in user.kwargs.items()):
                return True
        return False

    @staticmethod
    def _is_static_control_arg(
        user: fx.Node, node: fx.Node, modules: dict[str, nn.Module] | None = None
    ) -> bool:
        args = tuple(user.args)
        if user.op == "call_module":
            if not isinstance(user.target, str) or modules is None:
                return False
            module = modules.get(user.target)
            if not isinstance(module, (nn.MultiheadAttention, TDMultiheadAttention)):
                return False
            return (
                (len(args) > 3 and args[3] is node)
                or (len(args) > 5 and args[5] is node)
                or user.kwargs.get("key_padding_mask") is node
                or user.kwargs.get("attn_mask") is node
            )
        if user.op == "call_function" and user.target is F.scaled_dot_product_attention:
            return len(args) > 3 and args[3] is node
        return False

    @staticmethod
    def _is_functional_parameter_attr(node: fx.Node) -> bool:
        weighted = (F.linear, F.conv1d, F.conv2d, F.conv3d)
        for user in node.users:
            if user.op != "call_function":
                continue
            args = tuple(user.args)
            if user.target in weighted:
                if (len(args) > 1 and args[1] is node) or user.kwargs.get("weight") is node:
                    return True
            elif user.target in (torch.matmul, operator.matmul):
                if node in args or node in (user.kwargs.get("input"), user.kwargs.get("other")):
                    return True
        return False
