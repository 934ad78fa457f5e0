r"""Time-difference (TD) operators: an ANN function ``f`` run on spike-like increments.

A TD operator keeps the running sums of its inputs and of its output and emits the
increment of ``f`` at the running sums:

.. math::
    X[t] = \sum_{\tau \le t} x[\tau], \qquad y[t] = f(X[t]) - f(X[t-1]), \quad f(X[-1]) := 0

so that ``Σ_{τ≤t} y[τ] = f(X[t])``: a network of TD operators fed increments produces, in
its cumulative output, exactly what the ANN computes on the cumulative input, for any
``f`` (linear maps, LayerNorm, GELU, softmax, attention). Inputs are ``[T, N, *]`` in
``'m'`` mode (the default) and one step ``[N, *]`` in ``'s'`` mode; ``reset()`` clears the
sums. Operators with several inputs (matrix products, attention) sum each one.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from snn_core.base import MemoryModule
from torch import nn

__all__ = [
    "TDModule",
    "TDSoftmax",
    "TDLayerNorm",
    "TDRMSNorm",
    "TDGELU",
    "TDSiLU",
    "TDLinear",
    "TDConv2d",
    "SNNMatrixOperator",
    "SNNElementWiseProduct",
    "TDScaledDotProductAttention",
    "TDMultiheadAttention",
]


def _same_meta(a: Any, b: torch.Tensor) -> bool:
    return (
        isinstance(a, torch.Tensor)
        and a.shape == b.shape
        and a.dtype == b.dtype
        and a.device == b.device
    )


class TDModule(MemoryModule):
    """Base of the TD operators: subclasses define ``ann_forward(*inputs, **kwargs)``, the
    ANN function ``f`` of one step's tensors (see the module doc). Keyword arguments are
    passed to ``f`` unchanged (they are not summed over time). State: ``x_cum`` (the input
    sums: a tensor, or a tuple for several inputs) and ``y_cum`` (``f`` of them)."""

    #: least number of dimensions of a multi-step input ``[T, N, *]``
    _min_seq_dim = 2

    def __init__(self, step_mode: str = "m") -> None:
        super().__init__()
        self.step_mode = step_mode
        self.register_memory("x_cum", None)
        self.register_memory("y_cum", None)

    def ann_forward(self, *inputs: torch.Tensor, **kwargs: Any) -> Any:
        raise NotImplementedError

    def _check_step_inputs(self, inputs: tuple[torch.Tensor, ...], multi: bool) -> None:
        """Hook for shape checks of subclasses (``multi``: ``inputs`` are sequences)."""

    def _previous(self, inputs: tuple[torch.Tensor, ...]) -> tuple[Any, ...]:
        prev = self.x_cum
        if isinstance(prev, torch.Tensor):
            prev = (prev,)
        if not (isinstance(prev, tuple) and len(prev) == len(inputs)):
            return (None,) * len(inputs)
        if not all(_same_meta(p, x) for p, x in zip(prev, inputs)):
            raise ValueError(
                f"{type(self).__name__}: the input shape changed without reset(); call "
                "functional.reset_net(net) between sequences."
            )
        return prev

    def _store(self, cums: tuple[torch.Tensor, ...], y: Any) -> None:
        # own compact copies: a slice of a [T, ...] cumsum would keep all T steps alive
        cums = tuple(c.clone(memory_format=torch.contiguous_format) for c in cums)
        self.x_cum = cums[0] if len(cums) == 1 else cums
        self.y_cum = y.clone(memory_format=torch.contiguous_format)

    def single_step_forward(self, *inputs: torch.Tensor, **kwargs: Any) -> Any:
        self._check_step_inputs(inputs, multi=False)
        prev = self._previous(inputs)
        cum = tuple(x if p is None else p + x for p, x in zip(prev, inputs))
        y = self._primary(self.ann_forward(*cum, **kwargs))
        out = y if self.y_cum is None else y - self.y_cum
        self._store(cum, y)
        return self._wrap(out)

    def multi_step_forward(self, *x_seqs: torch.Tensor, **kwargs: Any) -> Any:
        name = type(self).__name__
        for x in x_seqs:
            if x.dim() < self._min_seq_dim:
                raise ValueError(
                    f"{name} expects an input sequence with shape [T, ...] and at least "
                    f"{self._min_seq_dim} dimensions, but got shape {tuple(x.shape)}."
                )
            if x.shape[0] == 0:
                raise ValueError(
                    f"{name} expects a non-empty time dimension, but got shape {tuple(x.shape)}."
                )
        if len({x.shape[0] for x in x_seqs}) > 1:
            lengths = [x.shape[0] for x in x_seqs]
            raise ValueError(
                f"{name} expects its inputs to have the same time length, got {lengths}."
            )
        self._check_step_inputs(x_seqs, multi=True)
        prev = self._previous(tuple(x[0] for x in x_seqs))
        cums = tuple(x.cumsum(0) if p is None else p + x.cumsum(0) for p, x in zip(prev, x_seqs))
        ys = torch.stack(
            [
                self._primary(self.ann_forward(*(c[t] for c in cums), **kwargs))
                for t in range(cums[0].shape[0])
            ]
        )
        first = torch.zeros_like(ys[0]) if self.y_cum is None else self.y_cum
        out = torch.diff(ys, dim=0, prepend=first.unsqueeze(0))
        self._store(tuple(c[-1] for c in cums), ys[-1])
        return self._wrap(out)

    @staticmethod
    def _primary(y: Any) -> torch.Tensor:
        return y

    @staticmethod
    def _wrap(out: torch.Tensor) -> Any:
        return out

    def forward(self, *inputs: torch.Tensor, **kwargs: Any) -> Any:
        if self.step_mode == "s":
            return self.single_step_forward(*inputs, **kwargs)
        return self.multi_step_forward(*inputs, **kwargs)

    def extra_repr(self) -> str:
        return ""


class TDSoftmax(TDModule):
    """TD softmax along ``dim``, counted on the ``[T, N, *]`` sequence (so it cannot be the
    time dimension 0; a negative ``dim`` counts from the end)."""

    def __init__(self, dim: int = -1, step_mode: str = "m") -> None:
        super().__init__(step_mode)
        self.dim = dim

    def _check_step_inputs(self, inputs: tuple[torch.Tensor, ...], multi: bool) -> None:
        ndim = inputs[0].dim() + (0 if multi else 1)
        resolved = self.dim + ndim if self.dim < 0 else self.dim
        if not 0 <= resolved < ndim:
            raise ValueError(
                f"dim must be in the range [{-ndim}, {ndim - 1}], but got {self.dim} for an "
                f"input with {ndim} dimensions."
            )
        if resolved == 0:
            raise ValueError("TDSoftmax cannot normalize over the time dimension (dim 0).")

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.softmax(x, dim=self.dim - 1 if self.dim > 0 else self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class TDLayerNorm(TDModule):
    """TD :class:`torch.nn.LayerNorm` (same arguments and parameter names)."""

    def __init__(
        self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
        elementwise_affine: bool = True, bias: bool = True, device=None, dtype=None,
        step_mode: str = "m",
    ) -> None:  # fmt: skip
        super().__init__(step_mode)
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        kw = {"device": device, "dtype": dtype}
        if elementwise_affine:
            self.weight = nn.Parameter(torch.empty(self.normalized_shape, **kw))
        else:
            self.register_parameter("weight", None)
        if elementwise_affine and bias:
            self.bias = nn.Parameter(torch.empty(self.normalized_shape, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Weight 1, bias 0 (as :class:`torch.nn.LayerNorm`)."""
        if self.weight is not None:
            nn.init.ones_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _check_step_inputs(self, inputs: tuple[torch.Tensor, ...], multi: bool) -> None:
        n = len(self.normalized_shape)
        if tuple(inputs[0].shape[-n:]) != self.normalized_shape:
            raise ValueError(
                f"TDLayerNorm expects a trailing shape {self.normalized_shape}, got input "
                f"shape {tuple(inputs[0].shape)}."
            )

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine="
            f"{self.elementwise_affine}, bias={self.bias is not None}"
        )


class TDRMSNorm(TDModule):
    """TD :class:`torch.nn.RMSNorm`."""

    def __init__(
        self, normalized_shape: int | tuple[int, ...], eps: float | None = None,
        elementwise_affine: bool = True, device=None, dtype=None, step_mode: str = "m",
    ) -> None:  # fmt: skip
        super().__init__(step_mode)
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = nn.Parameter(
                torch.ones(self.normalized_shape, device=device, dtype=dtype)
            )
        else:
            self.register_parameter("weight", None)

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
        )


class TDGELU(TDModule):
    """TD GELU (``approximate='none'`` or ``'tanh'``)."""

    def __init__(self, approximate: str = "none", step_mode: str = "m") -> None:
        super().__init__(step_mode)
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}.")
        self.approximate = approximate

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class TDSiLU(TDModule):
    """TD SiLU ``x · sigmoid(x)``."""

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.silu(x)


class TDLinear(TDModule):
    """TD :class:`torch.nn.Linear` (same arguments, parameters and initialisation): the
    increment is ``W x[t]``, plus the bias at the first step."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None,
        dtype=None, step_mode: str = "m",
    ) -> None:  # fmt: skip
        super().__init__(step_mode)
        kw = {"device": device, "dtype": dtype}
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **kw))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_features, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """:class:`torch.nn.Linear`'s initialisation."""
        nn.Linear.reset_parameters(self)  # type: ignore[arg-type]

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class TDConv2d(TDModule):
    """TD :class:`torch.nn.Conv2d` (same arguments, parameters and initialisation); in
    ``'m'`` mode the input is ``[T, N, C, H, W]``."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
        dilation=1, groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
        device=None, dtype=None, step_mode: str = "m",
    ) -> None:  # fmt: skip
        super().__init__(step_mode)
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
            bias, padding_mode, device=device, dtype=dtype,
        )  # fmt: skip
        self._conv = [conv]  # not a submodule: its parameters are this module's
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = conv.kernel_size, conv.stride
        self.padding, self.dilation, self.groups = conv.padding, conv.dilation, groups
        self.padding_mode = padding_mode
        self.weight = conv.weight
        self.register_parameter("bias", conv.bias)

    def _check_step_inputs(self, inputs: tuple[torch.Tensor, ...], multi: bool) -> None:
        want = 5 if multi else 4
        if inputs[0].dim() != want:
            layout = "[T, N, C, H, W]" if multi else "[N, C, H, W]"
            raise ValueError(
                f"TDConv2d expects {layout} input, got shape {tuple(inputs[0].shape)}."
            )

    def ann_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv[0]._conv_forward(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        padding = repr(self.padding) if isinstance(self.padding, str) else self.padding
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={padding}"
        )
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text


class SNNMatrixOperator(TDModule):
    """TD matrix product: increments of ``A[t] @ B[t]`` for two summed inputs."""

    _min_seq_dim = 3

    def ann_forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)


class SNNElementWiseProduct(TDModule):
    """TD elementwise product: increments of ``A[t] * B[t]``."""

    def ann_forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a * b


class TDScaledDotProductAttention(TDModule):
    """TD :func:`torch.nn.functional.scaled_dot_product_attention` of summed ``query``,
    ``key``, ``value`` ``[T, ..., L, E]``; ``attn_mask`` is one step's (not summed)."""

    _min_seq_dim = 3

    def __init__(self, is_causal: bool = False, scale: float | None = None, step_mode: str = "m"):
        super().__init__(step_mode)
        self.is_causal = is_causal
        self.scale = scale

    def ann_forward(self, q, k, v, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=self.is_causal, scale=self.scale
        )

    def forward(self, query, key, value, attn_mask: torch.Tensor | None = None):
        if self.is_causal and attn_mask is not None:
            raise ValueError(
                "TDScaledDotProductAttention does not accept attn_mask when is_causal=True."
            )
        return super().forward(query, key, value, attn_mask=attn_mask)

    def extra_repr(self) -> str:
        return f"is_causal={self.is_causal}, scale={self.scale}"


class TDMultiheadAttention(TDModule):
    """TD multi-head attention with :class:`TDLinear` projections ``q_proj``, ``k_proj``,
    ``v_proj``, ``out_proj`` (``batch_first=True``, no dropout). Inputs ``[T, N, L, E]``
    (``'m'``) or ``[N, L, E]`` (``'s'``); returns ``(output, None)`` like
    :class:`torch.nn.MultiheadAttention` with ``need_weights=False``."""

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
        batch_first: bool = True, device=None, dtype=None, step_mode: str = "m",
    ) -> None:  # fmt: skip
        if embed_dim <= 0:
            raise ValueError(f"embed_dim must be positive, got {embed_dim}.")
        if num_heads <= 0:
            raise ValueError(f"num_heads must be positive, got {num_heads}.")
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}.")
        if dropout != 0.0:
            raise ValueError(f"TDMultiheadAttention supports dropout=0.0 only, got {dropout}.")
        if not batch_first:
            raise ValueError("TDMultiheadAttention supports batch_first=True only.")
        super().__init__(step_mode)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        kw = {"bias": bias, "device": device, "dtype": dtype, "step_mode": step_mode}
        self.q_proj = TDLinear(embed_dim, embed_dim, **kw)
        self.k_proj = TDLinear(embed_dim, embed_dim, **kw)
        self.v_proj = TDLinear(embed_dim, embed_dim, **kw)
        self.out_proj = TDLinear(embed_dim, embed_dim, **kw)

    @TDModule.step_mode.setter  # type: ignore[attr-defined]
    def step_mode(self, value: str) -> None:
        TDModule.step_mode.fset(self, value)  # type: ignore[attr-defined]
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            if name in self._modules:
                self._modules[name].step_mode = value

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, self.head_dim)).transpose(-3, -2)

    @staticmethod
    def _merge_heads(x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-3, -2).flatten(-2)

    def _check_step_inputs(self, inputs: tuple[torch.Tensor, ...], multi: bool) -> None:
        want = 4 if multi else 3
        layout = "[T, batch, seq, embed_dim]" if multi else "[batch, seq, embed_dim]"
        for x in inputs:
            if x.dim() != want or x.shape[-1] != self.embed_dim:
                raise ValueError(
                    f"TDMultiheadAttention expects {layout} inputs with embed_dim="
                    f"{self.embed_dim}, got shape {tuple(x.shape)}."
                )
        lead = 2 if multi else 1
        if len({tuple(x.shape[:lead]) for x in inputs}) > 1:
            shapes = [tuple(x.shape) for x in inputs]
            raise ValueError(
                f"TDMultiheadAttention expects query, key and value with the same leading "
                f"dimensions, got {shapes}."
            )

    def ann_forward(
        self, query, key, value, attn_mask=None, is_causal: bool = False, need_weights: bool = False
    ) -> tuple[torch.Tensor, None]:
        """The ANN attention of one step's (summed) inputs: ``(output, None)``."""
        if need_weights:
            raise ValueError("TDMultiheadAttention requires need_weights=False.")
        if attn_mask is not None and attn_mask.dtype == torch.bool:
            attn_mask = ~attn_mask  # MHA: True = masked out; SDPA: True = attend
        if attn_mask is not None and attn_mask.dim() == 3 and query.dim() == 3:
            attn_mask = attn_mask.unflatten(0, (query.shape[0], self.num_heads))
        o = F.scaled_dot_product_attention(
            self._split_heads(self.q_proj.ann_forward(query)),
            self._split_heads(self.k_proj.ann_forward(key)),
            self._split_heads(self.v_proj.ann_forward(value)),
            attn_mask=attn_mask, is_causal=is_causal,
        )  # fmt: skip
        return self.out_proj.ann_forward(self._merge_heads(o)), None

    @staticmethod
    def _primary(y: Any) -> torch.Tensor:
        return y[0]

    @staticmethod
    def _wrap(out: torch.Tensor) -> Any:
        return out, None

    def _check_options(self, kwargs: dict) -> None:
        if kwargs.get("need_weights", False):
            raise ValueError("TDMultiheadAttention requires need_weights=False.")
        if kwargs.get("key_padding_mask") is not None:
            raise ValueError("TDMultiheadAttention does not support key_padding_mask.")
        if kwargs.get("average_attn_weights", True) is not True:
            raise ValueError("TDMultiheadAttention does not support average_attn_weights=False.")
        unknown = set(kwargs) - {"need_weights", "key_padding_mask", "average_attn_weights"}
        if unknown:
            raise TypeError(f"TDMultiheadAttention got unexpected arguments {sorted(unknown)}.")

    def single_step_forward(self, query, key, value, attn_mask=None, is_causal=False, **kwargs):
        self._check_options(kwargs)
        self._check_causal(attn_mask, is_causal)
        return super().single_step_forward(
            query, key, value, attn_mask=attn_mask, is_causal=is_causal
        )

    def multi_step_forward(self, query, key, value, attn_mask=None, is_causal=False, **kwargs):
        self._check_options(kwargs)
        self._check_causal(attn_mask, is_causal)
        return super().multi_step_forward(
            query, key, value, attn_mask=attn_mask, is_causal=is_causal
        )

    @staticmethod
    def _check_causal(attn_mask: Any, is_causal: bool) -> None:
        if is_causal and attn_mask is not None:
            raise ValueError("TDMultiheadAttention does not accept attn_mask when is_causal=True.")

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )


def _td_module_from_ann(module: nn.Module) -> nn.Module | None:
    """The TD twin of a Linear / Conv2d / LayerNorm / GELU module (parameters copied,
    ``requires_grad`` and training mode kept), else ``None``."""
    if isinstance(module, nn.Linear):
        w = module.weight
        new: nn.Module = TDLinear(
            module.in_features, module.out_features, module.bias is not None, w.device, w.dtype
        )
    elif isinstance(module, nn.Conv2d):
        w = module.weight
        new = TDConv2d(
            module.in_channels, module.out_channels, module.kernel_size, module.stride,
            module.padding, module.dilation, module.groups, module.bias is not None,
            module.padding_mode, device=w.device, dtype=w.dtype,
        )  # fmt: skip
    elif isinstance(module, nn.LayerNorm):
        w = module.weight
        new = TDLayerNorm(
            module.normalized_shape, module.eps, module.elementwise_affine,
            bias=module.bias is not None,
            device=None if w is None else w.device, dtype=None if w is None else w.dtype,
        )  # fmt: skip
    elif isinstance(module, nn.GELU):
        new = TDGELU(approximate=getattr(module, "approximate", "none"))
    else:
        return None
    source = dict(module.named_parameters())
    with torch.no_grad():
        for name, p in new.named_parameters():
            p.copy_(source[name])
            p.requires_grad = source[name].requires_grad
    new.train(module.training)
    return new
