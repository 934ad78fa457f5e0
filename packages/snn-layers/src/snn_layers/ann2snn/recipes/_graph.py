"""Graph helpers shared by the calibrated recipes: Conv-BN fusion, batch parsing, ReLU
detection and normalisation, progress display."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

__all__: list[str] = []

_INPUT_KEYS = ("input", "image", "images", "img", "x", "data", "pixel_values")

# activations a ReLU-based recipe cannot turn into IF neurons (module types / call targets)
_OTHER_ACTIVATION_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU6, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU,
    nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Sigmoid, nn.Tanh, nn.Softplus,
    nn.Softsign, nn.Tanhshrink, nn.Threshold, nn.LogSigmoid, nn.GLU,
)  # fmt: skip
_OTHER_ACTIVATION_FUNCTIONS = {
    F.relu6, F.leaky_relu, F.prelu, F.rrelu, F.elu, F.selu, F.celu, F.gelu, F.silu, F.mish,
    F.hardswish, F.hardsigmoid, F.hardtanh, F.sigmoid, F.tanh, F.softplus, F.softsign,
    F.threshold, F.logsigmoid, F.glu, torch.sigmoid, torch.tanh, torch.clamp, torch.clip,
    torch.nn.functional.leaky_relu_, torch.selu, torch.celu,
}  # fmt: skip
_OTHER_ACTIVATION_METHODS = {"sigmoid", "tanh", "clamp", "clip", "clamp_min", "clamp_"}
_RELU_FUNCTIONS = {F.relu, torch.relu, torch.relu_, F.relu_}
_RELU_METHODS = {"relu", "relu_"}


def progress(iterable: Iterable, desc: str) -> Iterator:
    """``iterable`` with a progress bar (tqdm if installed, else one line per 10 % or
    per batch of an unsized iterable, on stderr)."""
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - depends on the environment
        tqdm = None
    if tqdm is not None:
        yield from tqdm(iterable, desc=desc)
        return
    total = len(iterable) if hasattr(iterable, "__len__") else None  # pragma: no cover
    step = max(1, (total or 10) // 10)  # pragma: no cover
    for i, item in enumerate(iterable):  # pragma: no cover
        yield item
        if (i + 1) % step == 0 or (total is not None and i + 1 == total):
            print(f"{desc}: {i + 1}/{total if total is not None else '?'}", file=sys.stderr)


def extract_batch_input(data: Any, _inside_input: bool = False) -> Any:
    """The model input of one calibration batch: a tensor, the first item of an
    ``(input, target)`` tuple / list, or the ``input`` / ``image`` / ``images`` / ``img``
    / ``x`` / ``data`` / ``pixel_values`` entry of a dict (searched in that order)."""
    if isinstance(data, torch.Tensor):
        return data
    if isinstance(data, (list, tuple)):
        if not data:
            raise ValueError("Batch data is an empty list or tuple.")
        if len(data) == 1:
            return extract_batch_input(data[0], _inside_input=_inside_input)
        if not _inside_input:
            return extract_batch_input(data[0], _inside_input=not isinstance(data[0], dict))
        return data
    if isinstance(data, dict):
        if not data:
            raise ValueError("Batch data is an empty dictionary.")
        if _inside_input:
            return data
        for key in _INPUT_KEYS:
            if key in data:
                return extract_batch_input(data[key], _inside_input=True)
        if len(data) != 1:
            raise ValueError(
                "Batch dictionaries with multiple fields must contain one of "
                f"{', '.join(repr(k) for k in _INPUT_KEYS)}; got keys {sorted(map(str, data))}."
            )
        return extract_batch_input(next(iter(data.values())), _inside_input=True)
    return data


def batch_to_tensor(data: Any, device: torch.device, recipe: str) -> torch.Tensor:
    """``extract_batch_input`` as a tensor on ``device`` (numpy arrays are converted)."""
    x = extract_batch_input(data)
    if isinstance(x, torch.Tensor):
        return x.to(device=device)
    if isinstance(x, (list, tuple, dict)):
        raise ValueError(
            f"{recipe} supports single-input calibration batches only. For multi-input "
            f"models, subclass ConversionRecipe or {recipe} and override calibrate()."
        )
    return torch.as_tensor(x, device=device)


def _module_pair(node: fx.Node, modules: dict[str, nn.Module], pattern: tuple) -> bool:
    if not node.args:
        return False
    for expected, current in zip(pattern, (node.args[0], node)):
        if not isinstance(current, fx.Node) or current.op != "call_module":
            return False
        if not isinstance(modules.get(current.target), expected):
            return False
    return True


def fuse_conv_bn(fx_model: fx.GraphModule, fuse_flag: bool = True) -> fx.GraphModule:
    """Fold each eval-mode BatchNorm that directly follows a convolution (whose output
    has no other user) into the convolution: ``W' = W γ / σ``, ``b' = (b - μ) γ / σ + β``
    with ``σ = sqrt(var + eps)``. The fused convolutions are new modules; the ANN's own
    modules are untouched."""
    if not fuse_flag:
        return fx_model
    modules = dict(fx_model.named_modules())
    patterns = (
        (nn.Conv1d, nn.BatchNorm1d),
        (nn.Conv2d, nn.BatchNorm2d),
        (nn.Conv3d, nn.BatchNorm3d),
    )
    for pattern in patterns:
        for node in list(fx_model.graph.nodes):
            if not _module_pair(node, modules, pattern) or len(node.args[0].users) > 1:
                continue
            conv_node = node.args[0]
            fused = fuse_conv_bn_eval(modules[conv_node.target], modules[node.target])
            parent, _, child = conv_node.target.rpartition(".")
            setattr(fx_model.get_submodule(parent) if parent else fx_model, child, fused)
            modules[conv_node.target] = fused
            node.replace_all_uses_with(conv_node)
            fx_model.graph.erase_node(node)
    fx_model.graph.lint()
    fx_model.delete_all_unused_submodules()
    fx_model.recompile()
    return fx_model


def is_relu_node(node: fx.Node, modules: dict[str, nn.Module]) -> bool:
    """``node`` calls an ``nn.ReLU`` module."""
    return (
        node.op == "call_module"
        and isinstance(node.target, str)
        and isinstance(modules.get(node.target), nn.ReLU)
    )


def _relu_input(node: fx.Node) -> Any:
    if node.args:
        return node.args[0]
    return node.kwargs.get("input", node.kwargs.get("self"))


def normalize_relu_calls(fx_model: fx.GraphModule) -> fx.GraphModule:
    """Turn ``F.relu`` / ``torch.relu`` / ``x.relu()`` calls (in-place ones included) into
    calls of new ``nn.ReLU`` submodules ``relu_function_<i>``, so that one code path
    converts functional and module ReLUs alike."""
    index = 0
    names = {name for name, _ in fx_model.named_modules()}
    changed = False
    for node in list(fx_model.graph.nodes):
        functional = node.op == "call_function" and node.target in _RELU_FUNCTIONS
        method = node.op == "call_method" and node.target in _RELU_METHODS
        if not (functional or method):
            continue
        while f"relu_function_{index}" in names:
            index += 1
        target = f"relu_function_{index}"
        names.add(target)
        fx_model.add_submodule(target, nn.ReLU())
        with fx_model.graph.inserting_after(node):
            new = fx_model.graph.call_module(target, args=(_relu_input(node),))
        node.replace_all_uses_with(new)
        fx_model.graph.erase_node(node)
        changed = True
    if changed:
        fx_model.graph.lint()
        fx_model.recompile()
    return fx_model


def check_no_other_activation(fx_model: fx.GraphModule, recipe: str) -> None:
    """Raise if the graph holds an activation other than ReLU, which ``recipe`` would
    otherwise leave unconverted."""
    modules = dict(fx_model.named_modules())
    for node in fx_model.graph.nodes:
        what = None
        if node.op == "call_module" and isinstance(
            modules.get(node.target), _OTHER_ACTIVATION_MODULES
        ):
            what = f"module {node.target!r} ({type(modules[node.target]).__name__})"
        elif node.op == "call_function" and node.target in _OTHER_ACTIVATION_FUNCTIONS:
            what = f"call {getattr(node.target, '__name__', node.target)}() at node {node.name!r}"
        elif node.op == "call_method" and node.target in _OTHER_ACTIVATION_METHODS:
            what = f"method call .{node.target}() at node {node.name!r}"
        if what is not None:
            raise ValueError(
                f"{recipe} converts ReLU activations only, but the model has the {what}. "
                "Replace it with nn.ReLU (and fine-tune the ANN) before conversion; "
                "TransformerTDEquivalentRecipe handles GELU / LayerNorm models."
            )
