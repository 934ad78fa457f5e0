"""Miscellaneous helpers: threshold margins, label codes, first spikes, init, delays."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "set_threshold_margin",
    "redundant_one_hot",
    "first_spike_index",
    "kaiming_normal_conv_linear_weight",
    "delay",
]


def _describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"{x.dtype} tensor of shape {tuple(x.shape)}"
    return type(x).__name__


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def set_threshold_margin(
    output_layer: nn.Module,
    label_one_hot: torch.Tensor,
    eval_threshold: float = 1.0,
    threshold0: float = 0.9,
    threshold1: float = 1.1,
) -> None:
    """Give the output neurons of a classifier a threshold margin.

    In training mode (``output_layer.training``) the threshold of output neuron ``i`` of a
    sample is ``threshold1`` if the sample belongs to class ``i`` and ``threshold0``
    otherwise, i.e. ``v_threshold`` becomes a ``[N, C]`` tensor; in eval mode every output
    neuron gets ``eval_threshold``. Call it before each forward.

    Args:
        output_layer: the output spiking-neuron layer (has ``v_threshold``), output ``[N, C]``.
        label_one_hot: one-hot labels ``[N, C]``.
        eval_threshold: threshold used at inference.
        threshold0: training threshold of the neurons of the wrong classes.
        threshold1: training threshold of the neuron of the true class.
    """
    if not isinstance(output_layer, nn.Module) or not hasattr(output_layer, "v_threshold"):
        raise TypeError(
            "output_layer must be a spiking-neuron module with a v_threshold attribute, "
            f"got {type(output_layer).__name__}"
        )
    if output_layer.training:
        if not isinstance(label_one_hot, torch.Tensor) or label_one_hot.dim() != 2:
            raise ValueError(
                f"label_one_hot must be a [N, C] tensor, got {_describe(label_one_hot)}"
            )
        dtype = label_one_hot.dtype if label_one_hot.is_floating_point() else None
        threshold = torch.full(
            label_one_hot.shape, float(threshold0), dtype=dtype, device=label_one_hot.device
        )
        threshold[label_one_hot == 1] = float(threshold1)
        output_layer.v_threshold = threshold
    else:
        output_layer.v_threshold = eval_threshold


def redundant_one_hot(labels: torch.Tensor, num_classes: int, n: int) -> torch.Tensor:
    """Redundant one-hot code: each class is ``n`` ones among ``num_classes * n`` entries.

    ``labels`` ``[N]`` (integers in ``[0, num_classes)``) -> ``[N, num_classes * n]`` in the
    default float dtype; class ``k`` sets entries ``k*n .. k*n + n - 1``.
    """
    _check_int("num_classes", num_classes, 1)
    _check_int("n", n, 1)
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.dim() != 1:
        raise ValueError(f"labels must be an integer tensor of shape [N], got {_describe(labels)}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"labels must lie in [0, {num_classes - 1}] for num_classes={num_classes}, got "
            f"values in [{int(labels.min())}, {int(labels.max())}]"
        )
    codes = F.one_hot(labels.long(), num_classes).repeat_interleave(n, dim=-1)
    return codes.to(torch.get_default_dtype())


def first_spike_index(spikes: torch.Tensor) -> torch.Tensor:
    """Boolean mask of each neuron's first spike.

    ``spikes`` ``[*, T]`` (time last) -> bool ``[*, T]``, ``True`` only at the first ``t``
    where ``spikes[..., t] != 0``; all ``False`` for a neuron that never fires.
    """
    if not isinstance(spikes, torch.Tensor) or spikes.dim() < 1:
        raise ValueError(f"spikes must be a tensor of shape [*, T], got {_describe(spikes)}")
    fired = spikes != 0
    return fired & (fired.cumsum(dim=-1) == 1)


def kaiming_normal_conv_linear_weight(net: nn.Module) -> None:
    """Kaiming-normal init (``a = sqrt(5)``) of the weights (not biases) of every
    ``Conv1d/2d/3d`` and ``Linear`` in ``net``; see ``torch.nn.init.kaiming_normal_``."""
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    for m in net.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, a=math.sqrt(5))


def delay(x_seq: torch.Tensor, delay_steps: int) -> torch.Tensor:
    """Delay a sequence along time: ``y[t] = x[t - delay_steps]``, zeros where ``t < delay_steps``.

    ``x_seq`` is ``[T, *]``; ``delay_steps >= T`` gives all zeros. The gradient is the
    advanced gradient: ``dx[t] = dy[t + delay_steps]`` for ``t < T - delay_steps``, else 0.
    """
    _check_int("delay_steps", delay_steps, 0)
    if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 1:
        raise ValueError(f"x_seq must be a tensor of shape [T, *], got {_describe(x_seq)}")
    if delay_steps == 0:
        return x_seq
    T = x_seq.shape[0]
    d = min(delay_steps, T)
    return torch.cat((x_seq.new_zeros((d, *x_seq.shape[1:])), x_seq[: T - d]))
