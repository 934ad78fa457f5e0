"""Containers: run single-step modules over time, fold time into the batch, recurrence.

- :class:`MultiStepContainer` / :class:`TLastMultiStepContainer` loop their (stateful,
  single-step) children over ``T``;
- :class:`SeqToANNContainer` / :class:`TLastSeqToANNContainer` fold ``T`` into the batch
  for stateless children (one call);
- :class:`StepModeContainer` does either, in the step mode it is set to;
- :class:`ElementWiseRecurrentContainer` and :class:`LinearRecurrentContainer` feed a
  module's previous output back to its input.

The children of these containers always run one step ``[N, *]`` at a time (the container
handles time), so they must be in single-step mode; ``functional.set_step_mode`` leaves
them alone (``keeps_submodule_step_mode = True``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from snn_core.base import MemoryModule, MultiStepModule, StepModule, check_step_mode
from torch import nn

from snn_layers._fold import _check_seq_dims, check_first_layer, fold_forward

__all__ = [
    "MultiStepContainer",
    "SeqToANNContainer",
    "TLastMultiStepContainer",
    "TLastSeqToANNContainer",
    "StepModeContainer",
    "ElementWiseRecurrentContainer",
    "LinearRecurrentContainer",
]


def _check_single_step_children(owner: str, modules: list[tuple[str, nn.Module]]) -> None:
    """Raise if a step-mode module among ``modules`` or inside them is not in single-step mode.

    Subtrees of nested containers that manage their own children's step mode are skipped
    (the nested container itself is checked).
    """
    bad: list[str] = []

    def visit(name: str, m: nn.Module) -> None:
        if isinstance(m, StepModule) and m.step_mode != "s":
            bad.append(f"{name} ({type(m).__name__}, step_mode={m.step_mode!r})")
        if not getattr(m, "keeps_submodule_step_mode", False):
            for child_name, child in m.named_children():
                visit(f"{name}.{child_name}", child)

    for name, m in modules:
        visit(name, m)
    if bad:
        raise ValueError(
            f"{owner} runs its modules one step [N, *] at a time, so they must be in "
            f"single-step mode ('s'); these are not: {'; '.join(bad)}"
        )


class MultiStepContainer(nn.Sequential, MultiStepModule):
    """Run single-step modules over a sequence: ``y[t] = seq(x[t])`` for ``t < T``.

    Input and output are ``[T, N, *]``. For stateful children (neurons); state is carried
    by the children between steps.
    """

    keeps_submodule_step_mode = True

    def __init__(self, *args: nn.Module) -> None:
        super().__init__(*args)
        self.step_mode = "m"
        _check_single_step_children(type(self).__name__, list(self.named_children()))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_seq_dims(type(self).__name__, x_seq, None, "[T, N, *]")
        step = super().forward
        return torch.stack([step(x) for x in x_seq])

    def extra_repr(self) -> str:
        return "step_mode=m"


class SeqToANNContainer(nn.Sequential, MultiStepModule):
    """Run stateless modules on all steps at once: ``[T, N, *]`` is folded to ``[T*N, *]``,
    passed through the modules, and unfolded to ``[T, N, *]``.

    Equal to looping over ``t`` for modules that treat samples independently; batch norm in
    training mode takes its statistics over all ``T*N`` samples. If the first module is a
    torch layer with known input needs (linear, convolution, norm, pooling), ``x_seq`` is
    checked against it before folding, so that a wrong size or a missing ``T`` is reported
    with the ``[T, N, *]`` shapes. A tuple output is unfolded item by item.
    """

    keeps_submodule_step_mode = True

    def __init__(self, *args: nn.Module) -> None:
        super().__init__(*args)
        self.step_mode = "m"
        _check_single_step_children(type(self).__name__, list(self.named_children()))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        check_first_layer(type(self).__name__, x_seq, self)
        return fold_forward(super().forward, x_seq)

    def extra_repr(self) -> str:
        return "step_mode=m"


class TLastMultiStepContainer(nn.Sequential, MultiStepModule):
    """:class:`MultiStepContainer` for time-last data: input and output ``[N, *, T]``."""

    keeps_submodule_step_mode = True

    def __init__(self, *args: nn.Module) -> None:
        super().__init__(*args)
        self.step_mode = "m"
        _check_single_step_children(type(self).__name__, list(self.named_children()))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        _check_seq_dims(type(self).__name__, x_seq, None, "[N, *, T]")
        step = super().forward
        return torch.stack([step(x_seq[..., t]) for t in range(x_seq.shape[-1])], dim=-1)

    def extra_repr(self) -> str:
        return "step_mode=m"


class TLastSeqToANNContainer(nn.Sequential, MultiStepModule):
    """:class:`SeqToANNContainer` for time-last data: input ``[N, *, T]``, output
    ``[N, *out, T]``."""

    keeps_submodule_step_mode = True

    def __init__(self, *args: nn.Module) -> None:
        super().__init__(*args)
        self.step_mode = "m"
        _check_single_step_children(type(self).__name__, list(self.named_children()))

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        check_first_layer(type(self).__name__, x_seq, self, t_last=True)
        y = fold_forward(super().forward, x_seq.movedim(-1, 0))
        if isinstance(y, tuple):
            return tuple(item.movedim(0, -1) for item in y)
        return y.movedim(0, -1)

    def extra_repr(self) -> str:
        return "step_mode=m"


class StepModeContainer(nn.Sequential, StepModule):
    """A sequence of single-step modules usable in either step mode.

    ``'s'``: the modules run on ``[N, *]``. ``'m'``: on ``[T, N, *]``, looped over ``T`` if
    ``stateful`` (modules with state over time, e.g. neurons), else folded into the batch
    in one call (stateless modules).

    Args:
        stateful: whether the contained modules keep state over time.
        *args: the modules, in single-step mode.
        step_mode: ``'s'`` or ``'m'``, the container's own step mode. The reference's
            positional form ``StepModeContainer(stateful, 'm', *modules)`` is accepted too: a
            string right after ``stateful`` is taken as the step mode.
    """

    keeps_submodule_step_mode = True

    def __init__(self, stateful: bool, *args: nn.Module | str, step_mode: str = "s") -> None:
        if not isinstance(stateful, bool):
            raise TypeError(
                f"stateful must be a bool (the first argument, before the modules), "
                f"got {stateful!r}"
            )
        if args and isinstance(args[0], str):  # StepModeContainer(stateful, step_mode, *modules)
            if step_mode != "s":
                raise TypeError(
                    f"StepModeContainer got step_mode twice: {args[0]!r} as the second "
                    f"positional argument and step_mode={step_mode!r}"
                )
            step_mode, args = args[0], args[1:]
        check_step_mode(step_mode)
        bad = [a for a in args if not isinstance(a, nn.Module)]
        if bad:
            raise TypeError(
                f"StepModeContainer takes torch.nn.Module arguments after stateful (and an "
                f"optional step_mode string), got {bad[0]!r}"
            )
        super().__init__(*args)
        self.stateful = stateful
        self.step_mode = step_mode
        _check_single_step_children(type(self).__name__, list(self.named_children()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        step = super().forward
        if self.step_mode == "s":
            return step(x)
        if self.stateful:
            _check_seq_dims(type(self).__name__, x, None, "[T, N, *]")
            return torch.stack([step(x_t) for x_t in x])
        check_first_layer(type(self).__name__, x, self)
        return fold_forward(step, x)

    def extra_repr(self) -> str:
        return f"stateful={self.stateful}, step_mode={self.step_mode}"


class ElementWiseRecurrentContainer(MemoryModule):
    r"""Element-wise recurrent connection around ``sub_module``.

    With the module's input :math:`x[t]` and ``sub_module``'s input and output :math:`i[t]`
    and :math:`y[t]` (also this module's output):

    .. math::
        i[t] = f(y[t-1], x[t]), \qquad y[t] = \mathrm{sub\_module}(i[t]), \qquad y[-1] = 0.

    ``f`` is ``element_wise_function``, called with the previous output first: the reference
    documentation writes ``f(x[t], y[t-1])`` but its implementation passes ``(y[t-1], x[t])``;
    we follow the implementation so ported code gives the same results (the two agree for
    symmetric ``f`` such as ``lambda x, y: x + y``).

    Args:
        sub_module: the module (single-step); its output must have its input's shape.
        element_wise_function: ``z = f(y_prev, x)``, element-wise.
        step_mode: ``'s'`` or ``'m'`` (loops the single step over ``T``).
    """

    keeps_submodule_step_mode = True

    def __init__(
        self,
        sub_module: nn.Module,
        element_wise_function: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        if not isinstance(sub_module, nn.Module):
            raise TypeError(f"sub_module must be a torch.nn.Module, got {type(sub_module)}")
        if not callable(element_wise_function):
            raise TypeError(
                f"element_wise_function must be callable z = f(y_prev, x), "
                f"got {element_wise_function!r}"
            )
        _check_single_step_children(type(self).__name__, [("sub_module", sub_module)])
        self.step_mode = step_mode
        self.sub_module = sub_module
        self.element_wise_function = element_wise_function
        self.register_memory("y", None)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        y_prev = self.y if self.y is not None else torch.zeros_like(x.detach())
        if y_prev.shape != x.shape:
            raise ValueError(
                f"ElementWiseRecurrentContainer: input x has shape {tuple(x.shape)} but the "
                f"previous output y[t-1] has shape {tuple(y_prev.shape)}; sub_module must "
                f"keep the input's shape, and reset() is needed before a batch of another shape"
            )
        y = self.sub_module(self.element_wise_function(y_prev, x))
        if not isinstance(y, torch.Tensor) or y.shape != x.shape:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(
                f"ElementWiseRecurrentContainer: sub_module must return a tensor of its "
                f"input's shape {tuple(x.shape)}, got {got}"
            )
        self.y = y
        return y

    def extra_repr(self) -> str:
        return f"element_wise_function={self.element_wise_function}, step_mode={self.step_mode}"


class LinearRecurrentContainer(MemoryModule):
    r"""Linear recurrent connection around ``sub_module``.

    .. math::
        i[t] = \begin{pmatrix} x[t] \\ y[t-1] \end{pmatrix} W^T + b, \qquad
        y[t] = \mathrm{sub\_module}(i[t]), \qquad y[-1] = 0,

    with ``x[t]`` ``[N, *, in_features]`` and ``y[t]`` ``[N, *, out_features]``. The
    connection is ``rc = torch.nn.Linear(in_features + out_features, in_features, bias)``
    (parameters ``rc.weight``, ``rc.bias``).

    Args:
        sub_module: the module (single-step), mapping ``in_features`` to ``out_features``.
        in_features: size of each input sample.
        out_features: size of each output sample of ``sub_module``.
        bias: whether the recurrent linear connection has a bias.
        step_mode: ``'s'`` or ``'m'`` (loops the single step over ``T``).
    """

    keeps_submodule_step_mode = True

    def __init__(
        self,
        sub_module: nn.Module,
        in_features: int,
        out_features: int,
        bias: bool = True,
        step_mode: str = "s",
    ) -> None:
        super().__init__()
        if not isinstance(sub_module, nn.Module):
            raise TypeError(f"sub_module must be a torch.nn.Module, got {type(sub_module)}")
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}")
        _check_single_step_children(type(self).__name__, [("sub_module", sub_module)])
        self.step_mode = step_mode
        self.in_features = in_features
        self.out_features = out_features
        self.rc = nn.Linear(in_features + out_features, in_features, bias)
        self.sub_module = sub_module
        self.register_memory("y", None)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[-1] != self.in_features:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"LinearRecurrentContainer expects x of shape [N, *, in_features="
                f"{self.in_features}], got {got}"
            )
        out_shape = (*x.shape[:-1], self.out_features)
        y_prev = self.y if self.y is not None else x.new_zeros(out_shape)
        if y_prev.shape != out_shape:
            raise ValueError(
                f"LinearRecurrentContainer holds y[t-1] of shape {tuple(y_prev.shape)} but the "
                f"input {tuple(x.shape)} needs {out_shape}; call reset() before a batch of "
                f"another shape"
            )
        y = self.sub_module(self.rc(torch.cat((x, y_prev), dim=-1)))
        if not isinstance(y, torch.Tensor) or y.shape != out_shape:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(
                f"LinearRecurrentContainer: sub_module must map [N, *, {self.in_features}] to "
                f"[N, *, out_features={self.out_features}] = {out_shape}, got {got}"
            )
        self.y = y
        return y

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"step_mode={self.step_mode}"
        )
