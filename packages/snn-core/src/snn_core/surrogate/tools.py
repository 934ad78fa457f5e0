"""Tools to inspect surrogates: compare a hand-written gradient with autograd, and plot one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import torch

from snn_core.surrogate.base import SurrogateFunctionBase, heaviside

__all__ = ["check_manual_grad", "plot_surrogate_function"]


def check_manual_grad(
    primitive_function: Callable[..., torch.Tensor],
    spiking_function: Callable[..., torch.Tensor],
    *args: Any,
    **kwargs: Any,
) -> float:
    """Compare a spike function's hand-written backward with autograd of its primitive.

    Both are called as ``f(x, *args, **kwargs)`` on ``x = arange(-2, 2, 1/256)``; the
    gradients of ``f(x).sum()`` are printed with their largest absolute difference and
    where it occurs, as the reference does.

    Example::

        check_manual_grad(lambda x, alpha: Sigmoid(alpha, spiking=False)(x),
                          surrogate.sigmoid, alpha=4.0)

    Returns:
        the largest absolute difference between the two gradients (the reference
        returns ``None``).
    """
    if not callable(primitive_function) or not callable(spiking_function):
        raise TypeError(
            "primitive_function and spiking_function must be callables f(x, *args, **kwargs), "
            f"got {type(primitive_function).__name__} and {type(spiking_function).__name__}"
        )
    x = torch.arange(-2.0, 2.0, 32 / 8192).requires_grad_(True)
    (grad_auto,) = torch.autograd.grad(primitive_function(x, *args, **kwargs).sum(), x)
    (grad_manual,) = torch.autograd.grad(spiking_function(x, *args, **kwargs).sum(), x)
    print("Surrogate gradient comparison: auto=", grad_auto, "manual=", grad_manual)
    abs_error = (grad_manual - grad_auto).abs()
    idx = abs_error.argmax()
    print("Surrogate gradient maximum error=", abs_error[idx], "at x=", x[idx].detach())
    print("Surrogate gradient values: auto=", grad_auto[idx], "manual=", grad_manual[idx])
    return float(abs_error[idx])


def plot_surrogate_function(
    surrogate_function: SurrogateFunctionBase,
    save_dir: str | os.PathLike[str] | None = ".",
    formats: Sequence[str] = ("pdf", "svg"),
    show: bool = True,
) -> Any:
    """Plot a surrogate's primitive and gradient on ``[-2, 2]`` beside the Heaviside step.

    As in the reference, the figure is saved as ``<save_dir>/<ClassName>.<format>`` for each
    of ``formats`` and shown with ``plt.show()``; ``save_dir=None`` saves nothing and
    ``show=False`` does not show it. The surrogate's spiking mode is restored afterwards.
    Uses the SciencePlots style when ``scienceplots`` is installed.

    Requires matplotlib (``pip install snn-core[plot]``), which snn-core does not depend on.

    Returns:
        the ``matplotlib.figure.Figure``.
    """
    if not isinstance(surrogate_function, SurrogateFunctionBase):
        raise TypeError(
            "surrogate_function must be a SurrogateFunctionBase instance (e.g. "
            f"surrogate.Sigmoid()), got {type(surrogate_function).__name__}"
        )
    from snn_core.visualizing._utils import _matplotlib

    _, plt = _matplotlib("plot_surrogate_function")
    style: list[str] = []
    try:
        import scienceplots  # noqa: F401

        style = ["science", "muted", "grid"]
    except ImportError:
        pass

    name = type(surrogate_function).__name__
    x = torch.arange(-2.5, 2.5, 0.001)
    was_spiking = surrogate_function.spiking
    try:
        surrogate_function.set_spiking_mode(False)
        with torch.no_grad():
            primitive = surrogate_function(x)
        surrogate_function.set_spiking_mode(True)
        x_grad = x.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(surrogate_function(x_grad).sum(), x_grad)
    finally:
        surrogate_function.set_spiking_mode(was_spiking)

    with plt.style.context(style):
        width, height = plt.rcParams["figure.figsize"]
        fig, ax = plt.subplots(dpi=200, figsize=(width, height))
        ax.plot(x.numpy(), heaviside(x).numpy(), label="Heaviside", linestyle="-.")
        ax.plot(x.numpy(), primitive.numpy(), label="Primitive")
        ax.plot(x.numpy(), gradient.numpy(), label="Gradient")
        ax.set_xlim(-2, 2)
        ax.legend()
        ax.set_title(f"{name} surrogate function")
        ax.set_xlabel("Input")
        ax.set_ylabel("Output")
        ax.grid(linestyle="--")
        if save_dir is not None:
            for fmt in formats:
                fig.savefig(os.path.join(os.fspath(save_dir), f"{name}.{fmt}"), bbox_inches="tight")
        if show:
            plt.show()
    return fig
