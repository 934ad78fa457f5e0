"""What every plasticity learner shares: the two spike monitors, the record checks, the
``enable`` / ``disable`` / ``reset`` / ``close`` life cycle and the gradient write-back.

A learner watches the input of one synapse (:class:`snn_core.monitor.InputMonitor`) and the
output of the module that emits the post-synaptic spikes (:class:`OutputMonitor`); each
``step()`` consumes the pairs recorded since the last one. Every record is checked against
the synapse before any trace advances, so a bad record leaves the learner untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from snn_core import base, monitor
from snn_core.functional import plasticity
from snn_core.functional.plasticity import check_time_constants
from torch import nn

Synapse = nn.Linear | nn.Conv1d | nn.Conv2d
WeightFn = Callable[[torch.Tensor], torch.Tensor]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _as_trace(trace: Any, like: torch.Tensor) -> torch.Tensor:
    """A ``None`` (0) or number trace becomes a tensor shaped like ``like``."""
    if isinstance(trace, torch.Tensor):
        return trace
    return torch.full_like(like, 0.0 if trace is None else float(trace))


def _pad_like_conv(conv: nn.Conv1d | nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """Pad ``x`` as ``conv`` pads its input (zeros, reflect, replicate or circular)."""
    pad = conv._reversed_padding_repeated_twice
    if not any(pad):
        return x
    mode = "constant" if conv.padding_mode == "zeros" else conv.padding_mode
    return F.pad(x, pad, mode=mode)


def _stdp_rule_for(
    synapse: Synapse, pre: torch.Tensor
) -> tuple[Callable[..., Any], torch.Tensor, dict[str, Any]]:
    """The STDP step of :mod:`snn_core.functional.plasticity` for ``synapse``, its input
    padded as the synapse pads it, and the keywords that step needs (a convolution's stride)."""
    if isinstance(synapse, nn.Linear):
        return plasticity.stdp_linear_step, pre, {}
    conv1d = isinstance(synapse, nn.Conv1d)
    rule = plasticity.stdp_conv1d_step if conv1d else plasticity.stdp_conv2d_step
    return rule, _pad_like_conv(synapse, pre), {"stride": synapse.stride}


def _apply_rule(
    rule: Callable[..., Any],
    synapse: Synapse,
    pre: torch.Tensor,
    post: torch.Tensor,
    trace_pre: Any,
    trace_post: Any,
    tau_pre: float,
    tau_post: float,
    f_pre: WeightFn,
    f_post: WeightFn,
    **kwargs: Any,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """One step of a pure plasticity ``rule`` on the detached weight of ``synapse``, a
    ``None`` or number trace made a tensor first: ``(result, (trace_pre, trace_post))``."""
    return rule(
        pre,
        post,
        (_as_trace(trace_pre, pre), _as_trace(trace_post, post)),
        synapse.weight.detach(),
        tau_pre=tau_pre,
        tau_post=tau_post,
        f_pre=f_pre,
        f_post=f_post,
        **kwargs,
    )


def _check_conv_taps(synapse: Any, who: str, where: str = "") -> None:
    """STDP of a convolution supports only ``dilation=1`` and ``groups=1``."""
    if isinstance(synapse, (nn.Conv1d, nn.Conv2d)):
        if any(d != 1 for d in synapse.dilation):
            raise NotImplementedError(
                f"{who}: STDP with dilation != 1 is not supported, got "
                f"dilation={synapse.dilation}{where}"
            )
        if synapse.groups != 1:
            raise NotImplementedError(
                f"{who}: STDP with groups != 1 is not supported, got groups={synapse.groups}{where}"
            )


def _padded_shape(conv: nn.Conv1d | nn.Conv2d, shape: tuple[int, ...]) -> tuple[int, ...]:
    pad = conv._reversed_padding_repeated_twice  # (last-left, last-right, ...)
    n = len(shape) - 2
    grow = [pad[2 * (n - 1 - d)] + pad[2 * (n - 1 - d) + 1] for d in range(n)]
    return (*shape[:2], *(s + g for s, g in zip(shape[2:], grow)))


class _SynapseInputMonitor(monitor.InputMonitor):
    """An :class:`~snn_core.monitor.InputMonitor` that also notes whether the synapse ran a
    forward at all (recorded or not), to tell "no forward yet" from "nothing recorded"."""

    forward_seen = False

    def create_hook(self, name: str) -> Callable[..., None]:
        record = super().create_hook(name)

        def hook(module: nn.Module, inputs: Any) -> None:
            self.forward_seen = True
            record(module, inputs)

        return hook


class _Learner(base.MemoryModule):
    """Base of the STDP-family learners (see the module docstring)."""

    _synapse_types: tuple[type, ...] = (nn.Linear, nn.Conv1d, nn.Conv2d)
    _step_modes: tuple[str, ...] = ("s", "m")

    def __init__(
        self,
        step_mode: str,
        synapse: Synapse,
        sn: nn.Module,
        exponential: bool,
        f_pre: WeightFn,
        f_post: WeightFn,
        **taus: float,
    ) -> None:
        name = type(self).__name__
        try:
            check_time_constants(exponential, **taus)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        if step_mode not in self._step_modes:
            raise ValueError(
                f"{name}: step_mode can only be one of {self._step_modes}, got {step_mode!r}"
            )
        self._check_synapse(synapse)
        if not isinstance(sn, nn.Module):
            raise TypeError(
                f"{name}: sn must be the torch.nn.Module that emits the post-synaptic spikes, "
                f"got {type(sn).__name__}"
            )
        for fn_name, fn in (("f_pre", f_pre), ("f_post", f_post)):
            if not callable(fn):
                raise TypeError(f"{name}: {fn_name} must be callable, got {fn!r}")
        super().__init__()
        self.step_mode = step_mode
        for key, value in taus.items():
            setattr(self, key, value)
        self.f_pre = f_pre
        self.f_post = f_post
        self.synapse = synapse
        self.in_spike_monitor = _SynapseInputMonitor(synapse, function_on_input=torch.Tensor.detach)
        self.out_spike_monitor = monitor.OutputMonitor(sn, function_on_output=torch.Tensor.detach)
        self.register_memory("trace_pre", None)
        self.register_memory("trace_post", None)

    def supported_step_mode(self) -> tuple[str, ...]:
        return self._step_modes

    # ------------------------------------------------------------------ validation
    def _check_synapse(self, synapse: Any) -> None:
        name = type(self).__name__
        if not isinstance(synapse, self._synapse_types):
            allowed = ", ".join(f"torch.nn.{t.__name__}" for t in self._synapse_types)
            raise NotImplementedError(
                f"{name} does not support the synapse {type(synapse).__name__} "
                f"({synapse!r}); supported: {allowed} and their snn_layers wrappers"
            )
        _check_conv_taps(synapse, name, f" in {synapse!r}")
        if not synapse.weight.is_floating_point():
            raise TypeError(f"{name}: the synapse weight must be floating point")

    def _apply(
        self, rule: Callable[..., Any], pre: torch.Tensor, post: torch.Tensor, **kwargs: Any
    ) -> torch.Tensor:
        """One step of ``rule`` with this learner's traces, time constants and weight
        dependences; the traces advance, the rule's weight change or eligibility is returned."""
        result, (self.trace_pre, self.trace_post) = _apply_rule(
            rule, self.synapse, pre, post, self.trace_pre, self.trace_post,
            self.tau_pre, self.tau_post, self.f_pre, self.f_post, **kwargs,
        )  # fmt: skip
        return result

    def _who(self) -> str:
        return f"{type(self).__name__} of {self.synapse!r}"

    def _check_open(self) -> None:
        if not self.in_spike_monitor.hooks or not self.out_spike_monitor.hooks:
            raise RuntimeError(f"{self._who()} is closed; create a new learner to resume learning")

    def _spike_ndim(self) -> int:
        """Dimensions of one time step's spikes: [N, F], [N, C, L] or [N, C, H, W]."""
        return 2 if isinstance(self.synapse, nn.Linear) else self.synapse.weight.dim()

    def _layout(self) -> str:
        one = {2: "[N, features]", 3: "[N, C, L]", 4: "[N, C, H, W]"}[self._spike_ndim()]
        return one if self.step_mode == "s" else "[T, " + one[1:]

    def _pending(self) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """The recorded (pre, post) pairs, all checked; ``None`` when there are none."""
        self._check_open()
        pres, posts = self.in_spike_monitor.records, self.out_spike_monitor.records
        if len(pres) != len(posts):
            raise RuntimeError(
                f"{self._who()}: the synapse recorded {len(pres)} inputs but sn recorded "
                f"{len(posts)} outputs since the last step(); every forward of the synapse "
                "must be followed by one of sn (reset() drops the records)"
            )
        if not pres:
            if not self.in_spike_monitor.forward_seen:
                raise RuntimeError(
                    f"{self._who()}: step() was called before any forward pass of the synapse; "
                    "run the network on an input first"
                )
            return None
        shapes = (
            None if self.trace_pre is None else tuple(self.trace_pre.shape),
            None if self.trace_post is None else tuple(self.trace_post.shape),
        )
        for pre, post in zip(pres, posts):
            shapes = self._check_pair(pre, post, shapes)
        return list(zip(pres, posts))

    def _check_pair(
        self, pre: Any, post: Any, shapes: tuple[tuple[int, ...] | None, ...]
    ) -> tuple[tuple[int, ...], tuple[int, ...]]:
        who, syn = self._who(), self.synapse
        for what, x in (("synapse input", pre), ("sn output", post)):
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"{who}: the {what} must be one tensor, got {type(x).__name__}")
            if x.device != syn.weight.device:
                raise ValueError(
                    f"{who}: the {what} is on {x.device} but the weight is on {syn.weight.device}"
                )
        ndim = self._spike_ndim() + (self.step_mode == "m")
        if pre.dim() != ndim or post.dim() != ndim:
            raise ValueError(
                f"{who}: in step_mode={self.step_mode!r} the spikes must be {self._layout()} "
                f"({ndim} dims), got synapse input {tuple(pre.shape)} and sn output "
                f"{tuple(post.shape)}"
            )
        if self.step_mode == "m":
            if pre.shape[0] != post.shape[0]:
                raise ValueError(
                    f"{who}: the synapse input has T={pre.shape[0]} steps but the sn output "
                    f"has T={post.shape[0]}"
                )
            pre_shape, post_shape = tuple(pre.shape[1:]), tuple(post.shape[1:])
        else:
            pre_shape, post_shape = tuple(pre.shape), tuple(post.shape)
        c = 1 if len(pre_shape) > 1 else 0  # channel dim; dim 0 is the batch when c == 1
        w = tuple(syn.weight.shape)
        batch_differs = c == 1 and pre_shape[0] != post_shape[0]
        if pre_shape[c] != w[1] or post_shape[c] != w[0] or batch_differs:
            raise ValueError(
                f"{who}: spike shapes do not match the weight [out, in, ...] = {w}: got "
                f"synapse input {pre_shape} and sn output {post_shape} per step (channels at "
                f"dim {c}, batch sizes must agree)"
            )
        if isinstance(syn, (nn.Conv1d, nn.Conv2d)):
            pre_shape = _padded_shape(syn, pre_shape)
            expected = tuple(
                (size - k) // s + 1
                for size, k, s in zip(pre_shape[2:], syn.kernel_size, syn.stride)
            )
            if post_shape[2:] != expected:
                raise ValueError(
                    f"{who}: the sn output has spatial shape {post_shape[2:]} but the synapse "
                    f"maps its (padded) input {pre_shape[2:]} to {expected}"
                )
        for trace, expected_shape, got in (
            ("trace_pre", shapes[0], pre_shape),
            ("trace_post", shapes[1], post_shape),
        ):
            if expected_shape is not None and expected_shape != got:
                raise ValueError(
                    f"{who}: {trace} has shape {expected_shape} from earlier spikes but the "
                    f"new spikes need {got}; call reset() before changing the batch size"
                )
        return pre_shape, post_shape

    # ------------------------------------------------------------------ life cycle
    def reset(self) -> None:
        """Clear traces, eligibilities and pending records; weights, gradients and
        enablement are left as they are."""
        super().reset()
        self.in_spike_monitor.clear_recorded_data()
        self.out_spike_monitor.clear_recorded_data()

    def disable(self) -> None:
        """Stop recording (states, records and hooks are kept)."""
        self.in_spike_monitor.disable()
        self.out_spike_monitor.disable()

    def enable(self) -> None:
        """Resume recording; a closed learner cannot be enabled again."""
        self._check_open()
        self.in_spike_monitor.enable()
        self.out_spike_monitor.enable()

    def close(self) -> None:
        """Remove the hooks for good and clear records and states (idempotent); weights
        and gradients are not touched."""
        self.in_spike_monitor.close()
        self.out_spike_monitor.close()
        self.reset()

    def _finish(self, delta_w: torch.Tensor, on_grad: bool, scale: float) -> torch.Tensor | None:
        """Scale, then write ``-delta_w`` into ``weight.grad`` (so that a descent optimizer
        step adds ``lr * delta_w``) or return it; the records are consumed."""
        if scale != 1.0:
            delta_w = delta_w * scale
        self.in_spike_monitor.clear_recorded_data()
        self.out_spike_monitor.clear_recorded_data()
        if not on_grad:
            return delta_w
        weight = self.synapse.weight
        weight.grad = -delta_w if weight.grad is None else weight.grad - delta_w
        return None

    def extra_repr(self) -> str:
        taus = ", ".join(f"{k}={getattr(self, k)}" for k in self._tau_names)
        return f"step_mode={self.step_mode}, {taus}"

    _tau_names: tuple[str, ...] = ("tau_pre", "tau_post")
