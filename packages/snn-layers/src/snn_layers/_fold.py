"""Folding time into the batch: the multi-step path of every stateless wrapper.

A stateless layer treats the samples of a batch independently, so running it on
``[T*N, *]`` and unfolding to ``[T, N, *]`` equals looping it over ``t`` — in one call.
(Batch norm in training mode is the exception by design: its statistics then cover all
``T*N`` samples.)

The unfolded input is checked against the layer before folding (number of dimensions and
feature size, a few integer compares), so that a missing ``T`` or a wrong channel count is
reported with the ``[T, N, *]`` shapes the user passed, not torch's folded ``[T*N, *]``
ones. The table of what each torch layer needs lives in ``snn_core.functional.forward``,
shared with ``functional.seq_to_ann_forward``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from snn_core.base import StepModule
from snn_core.functional.forward import (  # one table of layer input needs, in snn-core
    _check_layer_input,
    _input_spec,
    _shape_error,
    _Spec,
)
from torch import nn

__all__: list[str] = []


def _check_seq_dims(
    owner: str, x_seq: Any, dims: tuple[int, ...] | None, layout: str, min_dim: int = 2
) -> None:
    """Raise unless ``x_seq`` is a tensor whose number of dimensions is in ``dims``
    (``dims=None``: at least ``min_dim``)."""
    if not isinstance(x_seq, torch.Tensor):
        raise TypeError(f"{owner} expects a torch.Tensor {layout}, got {type(x_seq).__name__}")
    ok = x_seq.dim() in dims if dims is not None else x_seq.dim() >= min_dim
    if not ok:
        allowed = " or ".join(str(d) for d in dims) if dims else f"at least {min_dim}"
        raise ValueError(
            f"{owner} in step_mode='m' expected x with shape {layout} ({allowed} "
            f"dimensions), got {list(x_seq.shape)}"
        )


def check_first_layer(owner: str, x_seq: Any, container: nn.Module, t_last: bool = False) -> None:
    """Check the multi-step input of ``container`` against its first child (see the module
    doc). ``t_last``: ``x_seq`` is ``[N, *, T]``."""
    _check_seq_dims(owner, x_seq, None, "[N, *, T]" if t_last else "[T, N, *]")
    first = next(iter(container._modules.values()), None)
    if first is None:
        return
    who = f"{owner}: its first module "
    if t_last:
        _check_layer_input(x_seq.movedim(-1, 0), first, who, "x_seq", True, tuple(x_seq.shape))
    else:
        _check_layer_input(x_seq, first, who, "x_seq")


def _unfold(y: Any, T: int, N: int) -> Any:
    if isinstance(y, torch.Tensor):
        if y.dim() < 1 or y.shape[0] != T * N:
            raise ValueError(
                f"in step_mode='m' the layer must keep the folded batch dimension T*N = {T * N} "
                f"(T={T}, N={N}) first, but it returned shape {tuple(y.shape)}"
            )
        return y.reshape(T, N, *y.shape[1:])
    if isinstance(y, tuple):  # e.g. max pooling with return_indices=True
        return tuple(_unfold(v, T, N) for v in y)
    raise TypeError(f"expected the layer to return a tensor, got {type(y).__name__}")


def fold_forward(fn: Callable[..., Any], x_seq: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
    """Apply ``fn`` to ``x_seq`` ``[T, N, *]`` folded to ``[T*N, *]``; unfold the result."""
    T, N = x_seq.shape[0], x_seq.shape[1]
    return _unfold(fn(x_seq.flatten(0, 1), *args, **kwargs), T, N)


class SeqFoldWrapper(StepModule):
    """Mixin giving a stateless torch layer a ``step_mode``.

    Put it first among the bases (``class Conv2d(SeqFoldWrapper, nn.Conv2d)``) so that its
    ``forward`` runs: ``'s'`` calls the torch layer on ``[N, *]``; ``'m'`` checks that the
    input ``[T, N, *]`` fits the torch layer (:attr:`seq_spec`, taken from the torch base
    class: number of dimensions, channel / feature size) and folds time into the batch (one
    call of the torch layer). Parameters, buffers and their names are the torch layer's, so
    torch state dicts load unchanged.
    """

    #: what a multi-step input must look like (set per subclass from its torch base class)
    seq_spec: _Spec | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "seq_spec" not in cls.__dict__:
            cls.seq_spec = _input_spec(cls)

    def _step_forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        """The torch layer's forward on one step ``[N, *]``."""
        return super(StepModule, self).forward(x, *args, **kwargs)  # type: ignore[misc]

    def _check_seq_input(self, x: Any) -> None:
        spec = self.seq_spec
        if spec is None:
            _check_seq_dims(type(self).__name__, x, None, "[T, N, *]")
        elif not isinstance(x, torch.Tensor):
            raise TypeError(
                f"{type(self).__name__} expects a torch.Tensor [T, N, *], got {type(x).__name__}"
            )
        elif not spec.fits(x, self):
            raise _shape_error("", "x", x, spec, self, suffix=" in step_mode='m'")

    def forward(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if self.step_mode == "s":
            return self._step_forward(x, *args, **kwargs)
        self._check_seq_input(x)
        return fold_forward(self._step_forward, x, *args, **kwargs)

    def extra_repr(self) -> str:
        torch_repr = super(StepModule, self).extra_repr()  # type: ignore[misc]
        step = f"step_mode={self.step_mode}"
        return f"{torch_repr}, {step}" if torch_repr else step
