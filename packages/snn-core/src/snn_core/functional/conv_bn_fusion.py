r"""Fold or pack ``Conv -> BatchNorm`` pairs of a network, found by tracing it with ``torch.fx``.

- :func:`fuse_conv_bn_eval_modules` (inference): each eligible pair becomes one convolution
  whose weight and bias absorb the normalization (``torch.nn.utils.fusion.fuse_conv_bn_eval``):

  .. math::
      W' = W \frac{\gamma}{\sqrt{\sigma^2 + \epsilon}}, \qquad
      b' = (b - \mu) \frac{\gamma}{\sqrt{\sigma^2 + \epsilon}} + \beta

- :func:`pack_conv_bn_train_modules` (training): each eligible pair is wrapped in one module
  that, for multi-step input ``[T, N, *]``, folds time into the batch once, runs the
  convolution and the normalization, and unfolds once, instead of once per layer.

A pair is eligible when a BatchNorm of the convolution's dimension (1d, 2d, 3d; the
step-mode wrappers of ``snn_layers`` subclass these ``torch.nn`` classes) directly consumes
the convolution's output, the convolution's output is used nowhere else, the convolution is
always followed by that same BatchNorm, and every call of the convolution is such a pair.
Stateful and step-mode modules are traced as leaves (they are never inlined).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from snn_core.base import StepModule

__all__ = ["fuse_conv_bn_eval_modules", "pack_conv_bn_train_modules"]

_log = logging.getLogger(__name__)

_PAIRS: tuple[tuple[type[nn.Module], type[nn.Module]], ...] = (
    (nn.Conv1d, nn.BatchNorm1d),
    (nn.Conv2d, nn.BatchNorm2d),
    (nn.Conv3d, nn.BatchNorm3d),
)


class _TrainConvBnWrapper(nn.Module):
    """``bn(conv(x))``; multi-step input ``[T, N, C, *]`` is folded to ``[T*N, C, *]`` once.

    Folding happens when neither module is a single-step ``StepModule`` and ``x`` has one
    more dimension than the convolution's batched input; the two modules are then run in
    single-step mode (their forward hooks see the folded tensor).
    """

    def __init__(self, conv: nn.Module, bn: nn.Module) -> None:
        super().__init__()
        self.conv = conv
        self.bn = bn

    @staticmethod
    @contextmanager
    def _single_step(module: nn.Module) -> Iterator[None]:
        if not isinstance(module, StepModule):
            yield
            return
        old = module.step_mode
        module.step_mode = "s"
        try:
            yield
        finally:
            module.step_mode = old

    def _is_multi_step(self, x: torch.Tensor) -> bool:
        if getattr(self.conv, "step_mode", "m") != "m" or getattr(self.bn, "step_mode", "m") != "m":
            return False
        for dims, (conv_type, _) in enumerate(_PAIRS, start=1):
            if isinstance(self.conv, conv_type):
                return x.dim() == dims + 3
        return False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._is_multi_step(x):
            return self.bn(self.conv(x))
        t, n = x.shape[:2]
        y = x.flatten(0, 1)
        with self._single_step(self.conv):
            y = self.conv(y)
        with self._single_step(self.bn):
            y = self.bn(y)
        return y.reshape(t, n, *y.shape[1:])


class _LeafTracer(fx.Tracer):
    """Keeps step-mode / stateful modules (and our wrapper) as single graph nodes."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if isinstance(m, (StepModule, _TrainConvBnWrapper)):
            return True
        return super().is_leaf_module(m, module_qualified_name)


def _trace(net: nn.Module) -> fx.GraphModule:
    tracer = _LeafTracer()
    graph = tracer.trace(net)
    return fx.GraphModule(tracer.root, graph)


def _pair_type(conv: nn.Module, bn: nn.Module) -> bool:
    return any(isinstance(conv, c) and isinstance(bn, b) for c, b in _PAIRS)


def _find_pairs(gm: fx.GraphModule) -> dict[tuple[str, str], list[fx.Node]]:
    """``{(conv_target, bn_target): [bn nodes]}`` of the eligible pairs (see module doc)."""
    modules = dict(gm.named_modules())
    calls: dict[str, int] = {}
    for node in gm.graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    pairs: dict[tuple[str, str], list[fx.Node]] = {}
    bns_of_conv: dict[str, set[str]] = {}
    for node in gm.graph.nodes:
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        src = node.args[0]
        if not isinstance(src, fx.Node) or src.op != "call_module" or len(src.users) != 1:
            continue
        if not _pair_type(modules[src.target], modules[node.target]):
            continue
        pairs.setdefault((src.target, node.target), []).append(node)
        bns_of_conv.setdefault(src.target, set()).add(node.target)
    return {
        (conv, bn): nodes
        for (conv, bn), nodes in pairs.items()
        if len(bns_of_conv[conv]) == 1 and len(nodes) == calls[conv]
    }


def _set_submodule(gm: fx.GraphModule, target: str, module: nn.Module) -> None:
    parent, _, name = target.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, name, module)


def _rewrite(gm: fx.GraphModule, conv_target: str, bn_nodes: list[fx.Node], new: nn.Module) -> None:
    _set_submodule(gm, conv_target, new)
    for node in bn_nodes:
        node.replace_all_uses_with(node.args[0])
        gm.graph.erase_node(node)


def _finish(gm: fx.GraphModule) -> fx.GraphModule:
    gm.graph.lint()
    gm.delete_all_unused_submodules()
    gm.recompile()
    return gm


def fuse_conv_bn_eval_modules(net: nn.Module) -> fx.GraphModule:
    """Trace ``net`` (in ``eval()`` mode) and fold every eligible ``Conv -> BatchNorm`` pair.

    Returns a new ``torch.fx.GraphModule`` that computes what ``net`` computes, with one
    convolution per folded pair (a copy of the original convolution, so a step-mode
    convolution keeps its step mode). ``net``'s modules are shared with the result except
    the folded ones; pass a ``copy.deepcopy`` to keep ``net`` intact.

    Raises:
        ValueError: if ``net`` is in training mode, or a BatchNorm to fold keeps no running
            statistics (``track_running_stats=False``).
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if net.training:
        raise ValueError(
            "fuse_conv_bn_eval_modules needs a model in eval() mode (BatchNorm must use its "
            "running statistics); call net.eval() first"
        )
    gm = _trace(net)
    pairs = _find_pairs(gm)
    for (conv_target, bn_target), bn_nodes in pairs.items():
        conv, bn = gm.get_submodule(conv_target), gm.get_submodule(bn_target)
        if not bn.track_running_stats or bn.running_mean is None or bn.running_var is None:
            raise ValueError(
                f"cannot fuse {bn_target!r} into {conv_target!r}: the BatchNorm must track "
                f"running stats (track_running_stats=True)"
            )
        _rewrite(gm, conv_target, bn_nodes, fuse_conv_bn_eval(conv, bn))
    _log.info("fuse_conv_bn_eval_modules: fused %d Conv-BatchNorm pair(s)", len(pairs))
    return _finish(gm)


def pack_conv_bn_train_modules(net: nn.Module) -> fx.GraphModule:
    """Trace ``net`` (in ``train()`` mode) and wrap every eligible ``Conv -> BatchNorm`` pair.

    Each pair becomes one module (at the convolution's name, holding ``.conv`` and ``.bn``,
    the original modules with their parameters) that folds multi-step input ``[T, N, *]``
    once for both layers. Results and gradients equal those of ``net``. Pairs of step-mode
    modules whose step modes differ are left as they are.

    Raises:
        ValueError: if ``net`` is in eval mode.
    """
    if not isinstance(net, nn.Module):
        raise TypeError(f"net must be a torch.nn.Module, got {type(net).__name__}")
    if not net.training:
        raise ValueError(
            "pack_conv_bn_train_modules needs a model in train() mode; for inference use "
            "fuse_conv_bn_eval_modules"
        )
    gm = _trace(net)
    pairs = _find_pairs(gm)
    packed = 0
    for (conv_target, bn_target), bn_nodes in pairs.items():
        conv, bn = gm.get_submodule(conv_target), gm.get_submodule(bn_target)
        if isinstance(conv, StepModule) and isinstance(bn, StepModule):
            if conv.step_mode != bn.step_mode:
                continue
        _rewrite(gm, conv_target, bn_nodes, _TrainConvBnWrapper(conv, bn))
        packed += 1
    _log.info(
        "pack_conv_bn_train_modules: packed %d of %d Conv-BatchNorm pair(s)", packed, len(pairs)
    )
    return _finish(gm)
