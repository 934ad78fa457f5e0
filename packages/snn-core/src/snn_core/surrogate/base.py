"""The surrogate-gradient contract shared by every backend.

A spike is ``heaviside(x)`` forward (1 where ``x >= 0``) and ``derivative(x)`` backward.
Each surrogate defines, once and as plain elementwise torch expressions of ``x`` whose
hyper-parameters are Python numbers on ``self``:

- :meth:`SurrogateFunctionBase.primitive` — the smooth function ``g(x)`` that approximates
  the step;
- :meth:`SurrogateFunctionBase.derivative` — ``g'(x)``, used as the spike's gradient.

The torch backend calls them directly; the kernel generator traces them to emit Triton
and CUDA code, so a new surrogate works on every backend without new kernel code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["SurrogateFunctionBase", "heaviside"]


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """The Heaviside step with ``heaviside(0) = 1``, in ``x``'s dtype."""
    return (x >= 0).to(x.dtype)


class _SurrogateSpike(torch.autograd.Function):
    """Forward: ``surrogate.spike_forward(x)``; backward: ``grad * surrogate.derivative(x)``.

    Written with ``setup_context`` so that ``torch.func`` transforms (``grad``, ``vmap``,
    ``jacrev``) work through it.
    """

    @staticmethod
    def forward(x: torch.Tensor, surrogate: SurrogateFunctionBase) -> torch.Tensor:
        return surrogate.spike_forward(x)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: torch.Tensor) -> None:
        x, surrogate = inputs
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor | None, None]:
        if not ctx.needs_input_grad[0]:
            return None, None
        (x,) = ctx.saved_tensors
        return grad_output * ctx.surrogate.derivative(x), None

    @staticmethod
    def vmap(info: Any, in_dims: tuple[Any, ...], x: torch.Tensor, surrogate: Any) -> Any:
        # Elementwise: apply to the batched tensor as it is.
        return _SurrogateSpike.apply(x, surrogate), in_dims[0]


class SurrogateFunctionBase(nn.Module):
    """Base class of surrogate spike functions.

    Args:
        spiking: if ``True`` (default) forward emits spikes (``heaviside``) and backward
            uses :meth:`derivative`; if ``False`` forward is the smooth :meth:`primitive`
            (differentiated by autograd).

    Subclasses set their hyper-parameters as attributes (Python numbers), list their
    names in ``_param_names`` (used by ``repr``, ``params()`` and kernel caches), and
    implement :meth:`primitive` and :meth:`derivative`.

    The reference framework's class-level functions are derived from those two methods:
    ``Sigmoid.spiking_function(x, alpha)``, ``Sigmoid.primitive_function(x, alpha)`` and
    ``Sigmoid.backward(grad_output, x, alpha)`` (hyper-parameters in ``_param_names``
    order, or by name).
    """

    _param_names: tuple[str, ...] = ()

    def __init__(self, spiking: bool = True) -> None:
        super().__init__()
        if not isinstance(spiking, bool):
            raise TypeError(f"spiking must be a bool, got {spiking!r}")
        self.spiking = spiking

    # ---- the single definition -------------------------------------------------------
    def primitive(self, x: torch.Tensor) -> torch.Tensor:
        """The smooth primitive ``g(x)`` (plain torch, elementwise)."""
        raise NotImplementedError

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        """The surrogate gradient ``g'(x)`` (plain torch, elementwise)."""
        raise NotImplementedError

    def spike_forward(self, x: torch.Tensor) -> torch.Tensor:
        """What the spiking forward emits; the Heaviside step unless a subclass says else."""
        return heaviside(x)

    # ---- module surface ----------------------------------------------------------------
    def params(self) -> dict[str, float]:
        """The hyper-parameters as a dict (stable order), e.g. ``{'alpha': 4.0}``."""
        return {name: getattr(self, name) for name in self._param_names}

    def set_spiking_mode(self, spiking: bool) -> None:
        """Switch forward between spikes (``True``) and the smooth :meth:`primitive`."""
        if not isinstance(spiking, bool):
            raise TypeError(f"spiking must be a bool, got {spiking!r}")
        self.spiking = spiking

    def extra_repr(self) -> str:
        items = [f"{k}={v}" for k, v in self.params().items()]
        return ", ".join([*items, f"spiking={self.spiking}"])

    def cache_key(self) -> str:
        """A string that identifies this surrogate's backward for kernel caches."""
        return f"{type(self).__qualname__}({self.extra_repr()})"

    @property
    def _sg_params(self) -> dict[str, float]:
        """The reference framework's name for :meth:`params`."""
        return self.params()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.spiking:
            return _SurrogateSpike.apply(x, self)
        return self.primitive(x)

    # ---- the reference's class-level functions, derived from the single definition -----
    @classmethod
    def _from_params(cls, *params: Any, **named: Any) -> SurrogateFunctionBase:
        """A spiking instance from the hyper-parameters, in ``_param_names`` order."""
        return cls(*params, **named)

    @classmethod
    def _instance(cls, *params: Any, **named: Any) -> SurrogateFunctionBase:
        """:meth:`_from_params`, cached per class and (typed) positional parameters.

        A plain dict rather than ``functools.lru_cache``, which ``torch.compile`` warns about.
        """
        if named:
            return cls._from_params(*params, **named)
        key = (cls, *((type(p), p) for p in params))  # typed: ``1`` and ``True`` differ
        try:
            surrogate = _INSTANCES.get(key)
        except TypeError:  # an unhashable parameter: let the class report it
            return cls._from_params(*params)
        if surrogate is None:
            surrogate = cls._from_params(*params)
            if len(_INSTANCES) >= _INSTANCES_MAX:
                _INSTANCES.clear()
            _INSTANCES[key] = surrogate
        return surrogate

    @classmethod
    def spiking_function(cls, x: torch.Tensor, *params: Any, **named: Any) -> torch.Tensor:
        """Spikes with this surrogate's gradient: ``cls(*params)(x)`` in spiking mode."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        return _SurrogateSpike.apply(x, cls._instance(*params, **named))

    @classmethod
    def primitive_function(cls, x: torch.Tensor, *params: Any, **named: Any) -> torch.Tensor:
        """The primitive ``g(x)`` for the given hyper-parameters."""
        return cls._instance(*params, **named).primitive(x)

    @classmethod
    def backward(
        cls, grad_output: torch.Tensor, x: torch.Tensor, *params: Any, **named: Any
    ) -> torch.Tensor:
        """``grad_output * g'(x)`` for the given hyper-parameters."""
        return grad_output * cls._instance(*params, **named).derivative(x)


_INSTANCES: dict[tuple[Any, ...], SurrogateFunctionBase] = {}
_INSTANCES_MAX = 256
