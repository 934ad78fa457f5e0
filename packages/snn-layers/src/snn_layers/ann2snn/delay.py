r"""Where to start reading out a converted network: :func:`estimate_delay_start`.

A converted layer ``scaler0 -> neuron -> scaler1`` starts firing only after its membrane
potential climbs from its initial value ``v_0`` to the threshold ``θ``. For an input
current ``x`` (after ``scaler0``) and output scale ``λ`` (``scaler1``) the layer's delay in
time-steps is about

.. math::
    d = \frac{\operatorname{mean}\big((θ - v_0)^+ λ / θ\big)}
             {\operatorname{mean}\big(\mathrm{relu}(x) λ / θ\big)}

(means over all elements, or per channel with the largest channel mean kept, for
channel-wise scalers). The delays of all layers add up; reading the output only from
``ceil(Σ d)`` on removes the transient (delayed readout, e.g. Bu, Li and Yu, CVPR 2025).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterable
from itertools import islice
from typing import Any

import torch
from snn_core.functional import reset_net
from snn_neurons import BaseNode
from torch import fx, nn

from snn_layers.ann2snn.modules import ChannelVoltageScaler, VoltageScaler

__all__ = ["estimate_delay_start"]

_log = logging.getLogger(__name__)
_MIN_READOUT_STEPS = 4
Scaler = VoltageScaler | ChannelVoltageScaler


def _extract_batch_input(batch: Any) -> torch.Tensor:
    if isinstance(batch, torch.Tensor):
        return batch
    if isinstance(batch, (tuple, list)) and batch:
        return batch[0]
    raise TypeError(
        "estimate_delay_start supports dataloaders that yield a tensor or a non-empty "
        f"tuple/list whose first element is the model input; got {type(batch).__name__}."
    )


def _as_runtime_tensor(value: Any, x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(value, device=x.device, dtype=x.dtype)


def _compute_delay_ratio(module: BaseNode, post_scaler: Scaler, x: torch.Tensor) -> torch.Tensor:
    """One layer's delay ``d`` for the input current ``x`` (see the module doc)."""
    theta = _as_runtime_tensor(module.v_threshold, x)
    if theta.numel() != 1:
        raise ValueError("Delay estimation requires scalar neuron v_threshold.")
    if not torch.isfinite(theta).all() or (theta <= 0).any():
        raise ValueError("Delay estimation requires finite positive v_threshold.")
    v0 = module.get_reset_value("v")
    v0 = _as_runtime_tensor(0.0 if v0 is None else v0, x)
    if isinstance(post_scaler, ChannelVoltageScaler):
        scale = post_scaler._view_scale(x).to(device=x.device, dtype=x.dtype)
        channel_dim = post_scaler.channel_dim
    else:
        scale = post_scaler.scale.to(device=x.device, dtype=x.dtype)
        channel_dim = None
    activation = torch.clamp(x.detach(), min=0) * scale / theta
    charge = torch.clamp(theta - v0, min=0) * scale / theta
    if channel_dim is None or scale.dim() == 0:
        mean_activation, mean_charge = activation.mean(), charge.mean()
    else:
        dim = channel_dim + activation.dim() if channel_dim < 0 else channel_dim
        if not 0 <= dim < activation.dim():
            raise ValueError("channel_dim is out of range for delay estimation.")
        others = tuple(d for d in range(activation.dim()) if d != dim)
        mean_activation = activation.mean(dim=others).max()
        mean_charge = charge.mean(dim=others).max() if charge.dim() else charge
    if mean_activation <= 0:
        return torch.zeros((), device=x.device, dtype=x.dtype)
    return (mean_charge / mean_activation).detach()


def _find_scaler_neuron_scaler_paths(model: nn.Module) -> list[tuple[BaseNode, Scaler]]:
    """``(neuron, post_scaler)`` for every ``scaler -> neuron -> scaler`` chain."""
    if not isinstance(model, fx.GraphModule):
        return []
    modules = dict(model.named_modules())
    paths = []
    for node in model.graph.nodes:
        module = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(module, BaseNode) or len(node.args) != 1:
            continue
        pre = node.args[0]
        if not isinstance(pre, fx.Node) or pre.op != "call_module":
            continue
        if not isinstance(modules.get(pre.target), (VoltageScaler, ChannelVoltageScaler)):
            continue
        posts = [
            modules[u.target]
            for u in node.users
            if u.op == "call_module"
            and isinstance(modules.get(u.target), (VoltageScaler, ChannelVoltageScaler))
        ]
        if len(posts) == 1:
            paths.append((module, posts[0]))
    return paths


def estimate_delay_start(
    model: nn.Module,
    dataloader: Iterable,
    device: str | torch.device,
    time_steps: int,
    num_batches: int = 1,
) -> int:
    """Estimate the first time-step worth reading from a converted network.

    Runs ``num_batches`` batches of ``dataloader`` (tensors or ``(input, ...)`` tuples)
    through ``model`` on ``device`` in single-step mode, with every neuron of a
    ``scaler -> neuron -> scaler`` chain temporarily replaced (by a forward hook) by the
    analog ``clamp(x, 0, θ)``, and returns ``ceil`` of the summed per-layer delays (see the
    module doc), at most ``time_steps - 1``. If fewer than 4 read-out steps would remain,
    it warns and returns ``max(time_steps - 5, 0)``. The model's device, training flags and
    state are restored; a model without such chains gives 0.
    """
    if time_steps <= 0:
        raise ValueError(f"time_steps must be positive, got {time_steps!r}.")
    if num_batches <= 0:
        raise ValueError(f"num_batches must be positive, got {num_batches!r}.")
    paths = _find_scaler_neuron_scaler_paths(model)
    if not paths:
        return 0
    state = next(model.parameters(), None)
    if state is None:
        state = next(model.buffers(), None)
    original_device = state.device if state is not None else torch.device("cpu")
    modes = {m: m.training for m in model.modules()}
    ratios: dict[BaseNode, list[float]] = {m: [] for m, _ in paths}
    handles = []

    def make_hook(module: BaseNode, post: Scaler):
        def hook(_module: nn.Module, inputs: tuple, _output: Any) -> torch.Tensor:
            if len(inputs) != 1 or not isinstance(inputs[0], torch.Tensor):
                raise TypeError("Delay estimation neuron hook expects one tensor input.")
            x = inputs[0]
            ratios[module].append(float(_compute_delay_ratio(module, post, x).cpu().item()))
            top = float(_as_runtime_tensor(module.v_threshold, x).item())
            return torch.clamp(x, min=0, max=top)

        return hook

    try:
        model.eval().to(device)
        for module, post in paths:
            handles.append(module.register_forward_hook(make_hook(module, post)))
        reset_net(model)
        with torch.no_grad():
            for batch in islice(dataloader, num_batches):
                x = _extract_batch_input(batch)
                if not isinstance(x, torch.Tensor):
                    raise TypeError("The extracted model input must be a tensor.")
                reset_net(model)
                model(x.to(device))
        delay = sum(sum(v) / len(v) for v in ratios.values() if v)
        if not any(ratios.values()):
            warnings.warn(
                "estimate_delay_start did not collect any delay ratios; no delayed readout "
                "will be applied.",
                RuntimeWarning,
                stacklevel=2,
            )
    finally:
        for handle in handles:
            handle.remove()
        reset_net(model)
        model.to(original_device)
        for module, training in modes.items():
            module.training = training
    raw = math.ceil(delay) if math.isfinite(delay) else time_steps
    if time_steps < raw + _MIN_READOUT_STEPS:
        warnings.warn(
            "estimate_delay_start: time_steps is too small to keep "
            f"{_MIN_READOUT_STEPS} readout steps after the estimated delay {raw} "
            f"(time_steps={time_steps}); "
            "disabling delayed readout.",
            RuntimeWarning,
            stacklevel=2,
        )
        return max(time_steps - _MIN_READOUT_STEPS - 1, 0)
    _log.info("estimate_delay_start: %d paths, delay %d", len(paths), raw)
    return min(raw, time_steps - 1)
