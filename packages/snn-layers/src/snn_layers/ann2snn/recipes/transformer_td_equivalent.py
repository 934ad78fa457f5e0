"""Transformer TD-equivalent conversion: every nonlinear operation becomes a TD operator.

Each ``Linear``, ``Conv2d``, ``LayerNorm``, ``RMSNorm``, ``GELU``, ``SiLU``, ``Tanh``,
``Softmax`` and ``MultiheadAttention`` module, and each ``F.gelu`` / ``F.silu`` /
``tanh`` / ``softmax`` / ``matmul`` / ``F.scaled_dot_product_attention`` call, is replaced
by its :mod:`~snn_layers.ann2snn.operators` TD twin. Fed a sequence of increments
``x[t]``, the converted network's cumulative output ``Σ_{τ≤t} y[τ]`` equals the ANN's
output on ``Σ_{τ≤t} x[τ]`` at every ``t`` (no calibration needed).
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from snn_layers.ann2snn.operators import (
    TDGELU,
    SNNMatrixOperator,
    TDModule,
    TDMultiheadAttention,
    TDRMSNorm,
    TDScaledDotProductAttention,
    TDSiLU,
    TDSoftmax,
    _td_module_from_ann,
)
from snn_layers.ann2snn.recipes.base import ConversionRecipe, replace_submodule
from snn_layers.ann2snn.recipes.step_mode_adapters import adapt_step_mode_graph

if TYPE_CHECKING:  # pragma: no cover
    from snn_layers.ann2snn.converter import FXConverter

__all__ = ["TransformerTDEquivalentRecipe"]


def _td_softmax_dim(dim: int) -> int:
    """ANN dim -> dim of the ``[T, ...]`` sequence (non-negative dims shift by one)."""
    return dim + 1 if dim >= 0 else dim


class _TDTanh(TDModule):
    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x)


def _literal(node: fx.Node, name: str, position: int, default: Any) -> Any:
    if name in node.kwargs:
        return node.kwargs[name]
    return node.args[position] if len(node.args) > position else default


def _tensor_arg(node: fx.Node, name: str, position: int) -> Any:
    if len(node.args) > position:
        return node.args[position]
    if name in node.kwargs:
        return node.kwargs[name]
    raise ValueError(f"TD conversion got malformed {node.target!r} node: missing {name!r}.")


class TransformerTDEquivalentRecipe(ConversionRecipe):
    """Replace a transformer's operations by TD operators (see the module doc).

    Args:
        time_steps: optional number of steps, stored on the result as ``time_steps``.
    """

    def __init__(self, time_steps: int | None = None) -> None:
        self.time_steps = time_steps

    def validate(self, converter: FXConverter | None) -> None:
        t = self.time_steps
        if t is not None and (not isinstance(t, int) or isinstance(t, bool) or t <= 0):
            raise ValueError(f"time_steps must be a positive integer when set, got {t!r}.")

    def replace(self, converter: FXConverter, fx_model: fx.GraphModule) -> fx.GraphModule:
        modules = dict(fx_model.named_modules())
        for node in list(fx_model.graph.nodes):
            if node.op != "call_module" or node.target not in modules:
                continue
            replacement = self._make_td_operator(modules[node.target], node)
            if replacement is not None:
                replace_submodule(fx_model, node.target, replacement)
                modules[node.target] = replacement
        self._replace_functional_td_ops(fx_model)
        for node in list(fx_model.graph.nodes):
            if node.op == "call_function" and node.target is F.scaled_dot_product_attention:
                kw = self._parse_sdpa_node(node)
                td = TDScaledDotProductAttention(is_causal=kw["is_causal"], scale=kw["scale"])
                args = (kw["query"], kw["key"], kw["value"], kw["attn_mask"])
                self._insert(fx_model, node, td, "td_scaled_dot_product_attention", args)
        return adapt_step_mode_graph(
            fx_model,
            context="TransformerTDEquivalentRecipe step-mode backend",
            wrap_module_types=(nn.Flatten,),
            safe_module_types=(nn.Dropout, nn.Dropout2d),
            safe_call_functions=(torch.div, operator.truediv),
        )

    def finalize(self, converter: FXConverter, fx_model: fx.GraphModule) -> nn.Module:
        object.__setattr__(fx_model, "ann2snn_recipe", "transformer_td_equivalent")
        if self.time_steps is not None:
            object.__setattr__(fx_model, "time_steps", self.time_steps)
        return fx_model

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _parse_sdpa_node(node: fx.Node) -> dict[str, Any]:
        dropout_p = _literal(node, "dropout_p", 4, 0.0)
        if not isinstance(dropout_p, (int, float)) or float(dropout_p) != 0.0:
            raise ValueError(
                f"TD SDPA conversion only supports literal dropout_p=0.0, but got {dropout_p!r}."
            )
        if _literal(node, "enable_gqa", 7, False) is not False:
            raise ValueError("TD SDPA conversion does not support enable_gqa=True.")
        is_causal = _literal(node, "is_causal", 5, False)
        if not isinstance(is_causal, bool):
            raise ValueError(
                f"TD SDPA conversion only supports literal bool is_causal, but got {is_causal!r}."
            )
        scale = _literal(node, "scale", 6, None)
        if scale is not None and not isinstance(scale, (int, float)):
            raise ValueError(
                f"TD SDPA conversion only supports literal numeric scale or None, got {scale!r}."
            )
        return {
            "query": _tensor_arg(node, "query", 0),
            "key": _tensor_arg(node, "key", 1),
            "value": _tensor_arg(node, "value", 2),
            "attn_mask": _literal(node, "attn_mask", 3, None),
            "is_causal": is_causal,
            "scale": None if scale is None else float(scale),
        }

    @staticmethod
    def _check_mha_node(module: nn.MultiheadAttention, node: fx.Node) -> None:
        if module.dropout != 0.0:
            raise ValueError("TD MHA conversion only supports dropout=0.0.")
        if not module.batch_first:
            raise ValueError("TD MHA conversion only supports batch_first=True.")
        if module.kdim != module.embed_dim or module.vdim != module.embed_dim:
            raise ValueError("TD MHA conversion only supports kdim == vdim == embed_dim.")
        if module.in_proj_weight is None:
            raise ValueError("TD MHA conversion requires packed in_proj_weight.")
        if module.bias_k is not None or module.bias_v is not None:
            raise ValueError("TD MHA conversion does not support add_bias_kv.")
        if module.add_zero_attn:
            raise ValueError("TD MHA conversion does not support add_zero_attn.")
        if _literal(node, "need_weights", 4, True) is not False:
            raise ValueError("TD MHA conversion requires need_weights=False.")
        if _literal(node, "key_padding_mask", 3, None) is not None:
            raise ValueError("TD MHA conversion does not support key_padding_mask.")
        if _literal(node, "average_attn_weights", 6, True) is not True:
            raise ValueError("TD MHA conversion does not support average_attn_weights=False.")

    @staticmethod
    def _copy_mha_parameters(source: nn.MultiheadAttention, target: TDMultiheadAttention) -> None:
        if source.in_proj_weight is None:
            raise ValueError("TD MHA conversion requires packed in_proj_weight.")
        projections = (target.q_proj, target.k_proj, target.v_proj)
        with torch.no_grad():
            for proj, w in zip(projections, source.in_proj_weight.chunk(3, dim=0)):
                proj.weight.copy_(w)
            if source.in_proj_bias is not None:
                for proj, b in zip(projections, source.in_proj_bias.chunk(3, dim=0)):
                    if proj.bias is not None:
                        proj.bias.copy_(b)
            target.out_proj.weight.copy_(source.out_proj.weight)
            if source.out_proj.bias is not None and target.out_proj.bias is not None:
                target.out_proj.bias.copy_(source.out_proj.bias)

    def _make_td_operator(self, module: nn.Module, node: fx.Node | None = None) -> nn.Module | None:
        """The TD twin of ``module`` (``None`` if it has none or already is a TD operator)."""
        if isinstance(module, TDModule):
            return None
        td = _td_module_from_ann(module)
        if td is not None:
            return td
        if isinstance(module, getattr(nn, "RMSNorm", ())):  # torch >= 2.4
            w = module.weight
            td = TDRMSNorm(
                module.normalized_shape, eps=module.eps,
                elementwise_affine=module.elementwise_affine,
                device=None if w is None else w.device, dtype=None if w is None else w.dtype,
            )  # fmt: skip
            if w is not None:
                with torch.no_grad():
                    td.weight.copy_(w)
                td.weight.requires_grad = w.requires_grad
        elif isinstance(module, nn.SiLU):
            td = TDSiLU()
        elif isinstance(module, nn.Tanh):
            td = _TDTanh()
        elif isinstance(module, nn.Softmax):
            if not isinstance(module.dim, int):
                raise ValueError(
                    "TD softmax conversion requires nn.Softmax dim to be a literal int."
                )
            td = TDSoftmax(dim=_td_softmax_dim(module.dim))
        elif isinstance(module, nn.MultiheadAttention):
            if node is None:
                raise ValueError("TD MHA conversion requires an FX node.")
            self._check_mha_node(module, node)
            w = module.in_proj_weight
            td = TDMultiheadAttention(
                module.embed_dim, module.num_heads, dropout=module.dropout,
                bias=module.in_proj_bias is not None, batch_first=module.batch_first,
                device=w.device, dtype=w.dtype,
            )  # fmt: skip
            self._copy_mha_parameters(module, td)
        else:
            return None
        td.train(module.training)
        return td

    @staticmethod
    def _insert(
        fx_model: fx.GraphModule, node: fx.Node, module: nn.Module, prefix: str, args
    ) -> None:
        existing = {name for name, _ in fx_model.named_modules()}
        index = 0
        while f"{prefix}_{index}" in existing:
            index += 1
        target = f"{prefix}_{index}"
        fx_model.add_submodule(target, module)
        with fx_model.graph.inserting_after(node):
            new = fx_model.graph.call_module(target, args=tuple(args))
        node.replace_all_uses_with(new)
        fx_model.graph.erase_node(node)

    def _replace_functional_td_ops(self, fx_model: fx.GraphModule) -> None:
        for node in list(fx_model.graph.nodes):
            fn, method = node.op == "call_function", node.op == "call_method"
            if fn and node.target is F.silu:
                td = TDSiLU().train(fx_model.training)
                self._insert(fx_model, node, td, "td_silu", (_tensor_arg(node, "input", 0),))
            elif fn and node.target is F.gelu:
                approximate = _literal(node, "approximate", 1, "none")
                if approximate not in ("none", "tanh"):
                    raise ValueError("TD GELU conversion requires approximate 'none' or 'tanh'.")
                td = TDGELU(approximate=approximate)
                self._insert(fx_model, node, td, "td_gelu", (_tensor_arg(node, "input", 0),))
            elif fn and node.target in (torch.tanh, F.tanh):
                self._insert(fx_model, node, _TDTanh(), "td_tanh", (_tensor_arg(node, "input", 0),))
            elif (fn and node.target in (F.softmax, torch.softmax)) or (
                method and node.target == "softmax"
            ):
                dim = _literal(node, "dim", 1, None)
                if not isinstance(dim, int):
                    raise ValueError("TD softmax conversion requires literal int dim.")
                td = TDSoftmax(dim=_td_softmax_dim(dim))
                self._insert(fx_model, node, td, "td_softmax", (node.args[0],))
            elif (fn and node.target in (torch.matmul, operator.matmul)) or (
                method and node.target == "matmul"
            ):
                args = (_tensor_arg(node, "input", 0), _tensor_arg(node, "other", 1))
                self._insert(fx_model, node, SNNMatrixOperator(), "td_matmul", args)
        fx_model.graph.lint()
        fx_model.delete_all_unused_submodules()
        fx_model.recompile()
