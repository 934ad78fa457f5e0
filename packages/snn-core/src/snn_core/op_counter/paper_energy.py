"""The energy figure SNN papers report (Spikformer, QKFormer, Spike-driven Transformer).

.. math::

    E = E_{MAC} \\sum_{l \\in \\text{real}} \\text{FLOPs}_l
      + E_{AC} \\sum_{l \\in \\text{spike}} fr_l \\cdot T \\cdot \\text{FLOPs}_l

where a layer's FLOPs are its multiply-accumulates per sample and time step (the thop
convention the papers use), ``fr_l`` is the firing rate of its spike input and
``T·FLOPs_l`` its dense work over all time steps. Layers whose operands are real-valued
(the first, encoding layer) cost a MAC per operation, layers driven by spikes an AC per
*active* operation. Energies per operation are 45 nm figures of Horowitz (ISSCC 2014):
fp32 ``E_MAC = 4.6 pJ`` (3.7 pJ multiply + 0.9 pJ add), ``E_AC = 0.9 pJ``; fp16 1.5 / 0.4 pJ;
int8 0.23 / 0.03 pJ (:class:`~snn_core.op_counter.SimpleEnergyCostConfig` presets).

Layers are the synaptic aten ops actually executed (``mm``, ``addmm``, ``bmm``,
``baddbmm``, ``convolution``, fused attention), so functional calls such as the attention
products ``Q K^T`` and ``A V`` are counted. Whether an operand is a spike tensor is decided
from its values (all 0 or 1, :func:`~snn_core.op_counter.is_binary_tensor`), except that
the model's own parameters and buffers are weights, never spikes. With two spike operands
(``Q K^T`` of spike-driven attention) the AC count is the exact number of co-active pairs
and the reported rate is that count over the dense work. Element-wise, normalisation,
pooling and neuron-update ops are outside the convention and not counted; ops the
estimator does not know are listed in the report's warnings, as is every real-valued
layer after the first (a non-binary tensor where a spike was expected, counted as MAC).
"""

from __future__ import annotations

import copy
import json
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn as nn
from torch.overrides import resolve_name
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.module_tracker import register_module_forward_pre_hook

from snn_core.op_counter import _ops
from snn_core.op_counter._binary import binary_nnz
from snn_core.op_counter.ac import _Uncounted
from snn_core.op_counter.base import ActiveModuleTracker, _collect_tensors, call_model
from snn_core.op_counter.simple_energy import SimpleEnergyCostConfig

__all__ = ["PaperLayerEnergy", "PaperEnergyReport", "PaperEnergyCounter", "estimate_paper_energy"]

aten = torch.ops.aten

_PRESETS = {
    "fp32": SimpleEnergyCostConfig.fp32,
    "fp16": SimpleEnergyCostConfig.fp16,
    "int8": SimpleEnergyCostConfig.int8,
}
# Ops outside the convention that are not worth a warning: data movement, creation,
# normalisation, reductions, softmax, pooling (element-wise ops are recognised by tag).
_IGNORED_NAMES = (
    "aten.view", "aten._unsafe_view", "aten.reshape", "aten.alias", "aten.as_strided",
    "aten.expand", "aten.slice", "aten.select", "aten.unsqueeze", "aten.squeeze",
    "aten.transpose", "aten.permute", "aten.t.", "aten.detach", "aten.lift_fresh", "aten.clone",
    "aten.copy", "aten._to_copy", "aten.contiguous", "aten.cat", "aten.stack", "aten.split",
    "aten.unbind", "aten.chunk", "aten.flip", "aten.roll", "aten.index", "aten.gather",
    "aten.scatter", "aten.masked_fill", "aten.repeat", "aten.empty", "aten.zeros", "aten.ones",
    "aten.full", "aten.arange", "aten.new_", "aten.fill", "aten.zero_", "aten.rand",
    "aten.bernoulli", "aten.normal", "aten.native_batch_norm", "aten._native_batch_norm",
    "aten.native_layer_norm", "aten.native_group_norm", "aten.batch_norm", "aten.layer_norm",
    "aten.group_norm", "aten._softmax", "aten._log_softmax", "aten.sum", "aten.mean", "aten.amax",
    "aten.amin", "aten.max", "aten.min", "aten.var", "aten.std", "aten.argmax", "aten.argmin",
    "aten.count_nonzero", "aten.any", "aten.all", "aten.avg_pool", "aten.max_pool",
    "aten.adaptive_avg_pool", "aten._adaptive_avg_pool", "aten.adaptive_max_pool",
    "aten.constant_pad_nd", "aten.pad", "aten.reflection_pad", "aten.replication_pad",
    "aten.native_dropout", "aten.dropout", "aten.upsample", "aten.pixel_shuffle", "aten.cumsum",
    "aten.topk", "aten.sort", "aten.item", "aten._local_scalar_dense", "aten.is_nonzero",
    "aten.equal", "aten.set_", "aten.resize_", "aten.sym_", "aten.im2col", "aten.col2im",
    "aten.unfold", "aten.diagonal", "aten.tril", "aten.triu", "aten.one_hot", "aten.embedding",
)  # fmt: skip


@dataclass
class PaperLayerEnergy:
    """One synaptic op site (a module scope and the op's position in it).

    Attributes:
        name: innermost module scope, e.g. ``'Spikformer.block.0.attn'``.
        op: aten op and its index in the scope's forward, e.g. ``'bmm#1'``.
        flops: dense multiply-accumulates per sample and time step (the papers' FLOPs).
        dense_ops: dense multiply-accumulates per sample over all calls (``T·FLOPs``).
        firing_rate: fraction of non-zero entries of the spike operand (``None`` for a
            real-valued layer); with two spike operands, the AC count over ``dense_ops``.
        kind: ``'MAC'`` (real-valued operands) or ``'AC'`` (a spike operand).
        ops: operations charged per sample: ``dense_ops`` (MAC) or ``fr · dense_ops`` (AC).
        energy_pj: ``E_MAC · ops`` or ``E_AC · ops``.
        calls: number of times the op ran (e.g. once per time step in single-step mode).
    """

    name: str
    op: str
    flops: float
    dense_ops: float
    firing_rate: float | None
    kind: str
    ops: float
    energy_pj: float
    calls: int


@dataclass
class PaperEnergyReport:
    """Result of :func:`estimate_paper_energy`; all counts and energies are per sample.

    Attributes:
        layers: per-layer rows in execution order.
        mac_ops / ac_ops: totals of MAC-charged and AC-charged operations.
        energy_mac_mj / energy_ac_mj / energy_total_mj: energies in mJ.
        e_mac_pj / e_ac_pj: energies per operation used.
        batch_size / time_steps: the divisors applied.
        warnings: unattributed ops and real-valued inputs where spikes were expected.
    """

    layers: list[PaperLayerEnergy]
    mac_ops: float
    ac_ops: float
    energy_mac_mj: float
    energy_ac_mj: float
    energy_total_mj: float
    e_mac_pj: float
    e_ac_pj: float
    batch_size: int
    time_steps: int
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-serialisable)."""
        return asdict(self)

    def to_json(self, **kwargs: Any) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), **kwargs)

    def table(self) -> str:
        """A fixed-width text table of the layers and the totals."""
        header = f"{'layer':<44} {'op':<16} {'kind':<4} {'FLOPs':>12} {'fr':>7} {'ops':>12} "
        header += f"{'E (uJ)':>10}"
        lines = [header, "-" * len(header)]
        for row in self.layers:
            fr = "-" if row.firing_rate is None else f"{row.firing_rate:.4f}"
            lines.append(
                f"{row.name[-44:]:<44} {row.op:<16} {row.kind:<4} {row.flops:>12.4g} {fr:>7} "
                f"{row.ops:>12.4g} {row.energy_pj * 1e-6:>10.4g}"
            )
        lines.append("-" * len(header))
        lines.append(
            f"MAC ops {self.mac_ops:.4g} ({self.energy_mac_mj:.4g} mJ), AC ops {self.ac_ops:.4g} "
            f"({self.energy_ac_mj:.4g} mJ); total {self.energy_total_mj:.4g} mJ per sample"
        )
        return "\n".join(lines)


def _spike_stats(x: torch.Tensor, multi_spike: bool) -> tuple[bool, float]:
    """(is a spike tensor, number of spikes) of ``x``: binary, or with ``multi_spike``
    non-negative integer-valued (a spike count per entry).

    Binary exactly when every non-zero element is a one (two counting passes)."""
    nnz = binary_nnz(x)
    if nnz is not None:
        return True, float(nnz)
    if multi_spike and not x.is_complex() and bool(((x >= 0) & (x == x.round())).all().item()):
        return True, float(x.sum(dtype=torch.float64).item())
    return False, 0.0


def _storage_ptr(x: torch.Tensor) -> int:
    try:
        return x.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return id(x)


def _matmul_macs(x: torch.Tensor, y: torch.Tensor) -> int:
    return x.numel() * y.shape[-1]


def _conv_macs(x: torch.Tensor, w: torch.Tensor, out: torch.Tensor, transposed: bool) -> int:
    positions = (x if transposed else out).shape[2:].numel()
    return w.shape[1:].numel() * positions * w.shape[0] * x.shape[0]


def _both_spike_pairs(func: Any, args: tuple) -> float:
    """Accumulations of a product of two spike operands: each pair of co-active entries
    (one per unit of count) is one; i.e. the sum of the product's entries."""
    with _Uncounted():
        return float(func(*(a.double() if torch.is_tensor(a) else a for a in args)).sum().item())


class _Site:
    __slots__ = ("name", "op", "calls", "dense", "spikes", "spike_numel", "pairs", "kinds")

    def __init__(self, name: str, op: str) -> None:
        self.name, self.op = name, op
        self.calls = 0
        self.dense = 0  # dense MACs over all calls
        self.spikes = 0  # non-zeros of the spike operand (one spike operand)
        self.spike_numel = 0
        self.pairs = 0  # exact ACs (two spike operands)
        self.kinds: set[str] = set()


class PaperEnergyCounter(TorchDispatchMode):
    """Dispatch-level context collecting, per synaptic op site, its dense work and the
    spike statistics of its operands (see :func:`estimate_paper_energy`, which uses it).

    Args:
        cost: per-operation energies, or a preset name ``'fp32'``, ``'fp16'``, ``'int8'``.
        model: the model whose parameters and buffers are weights: an operand stored in
            them is never taken for a spike tensor, even if its values are all 0 or 1.
        multi_spike: also take non-negative integer-valued operands (spike counts, e.g. a
            residual sum of spike tensors) as spikes, one AC per unit of count.
    """

    #: The convention counts synaptic operations only, so spiking neurons may keep their
    #: fused multi-step path under this mode (``snn_neurons`` reads this attribute; modes
    #: without it see the neurons' single-step definition, step by step).
    neuron_steps_visible = False

    def __init__(
        self,
        cost: SimpleEnergyCostConfig | str = "fp32",
        model: nn.Module | None = None,
        multi_spike: bool = False,
    ) -> None:
        super().__init__()
        self.cost = _resolve_cost(cost)
        self.multi_spike = multi_spike
        self._stats_cache: dict[tuple, tuple[bool, float]] = {}
        self._stats_refs: list[weakref.ref] = []
        self._kind_cache: dict[Any, bool] = {}
        tensors = [] if model is None else [*model.parameters(), *model.buffers()]
        self._weight_storages = {_storage_ptr(t) for t in tensors}
        self.tracker = ActiveModuleTracker()
        self.sites: OrderedDict[tuple[str, str], _Site] = OrderedDict()
        self.unattributed: dict[tuple[str, str], int] = {}
        self._ordinal: dict[str, dict[str, int]] = {}
        self._pre_handle: Any = None

    def __enter__(self) -> PaperEnergyCounter:
        self.tracker.__enter__()
        self._pre_handle = register_module_forward_pre_hook(self._on_enter)
        try:
            super().__enter__()
        except BaseException:
            self._pre_handle.remove()
            self.tracker.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *args: Any) -> Any:
        try:
            return super().__exit__(*args)
        finally:
            self._pre_handle.remove()
            self.tracker.__exit__(*args)
            self._stats_cache.clear()
            self._stats_refs.clear()

    def _on_enter(self, module: nn.Module, args: Any) -> None:
        self._ordinal.pop(self.tracker._get_mod_name(module), None)

    def _scope(self) -> str:
        return max(self.tracker.parents, key=lambda n: (n.count(".") + (n != "Global"), len(n)))

    def _site(self, scope: str, op: str) -> _Site:
        counts = self._ordinal.setdefault(scope, {})
        index = counts.get(op, 0)
        counts[op] = index + 1
        key = (scope, f"{op}#{index}")
        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = _Site(scope, f"{op}#{index}")
        return site

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        try:
            self._observe(func, args, kwargs, out)
        except Exception as error:  # never break the forward; report instead
            key = (self._scope(), f"{resolve_name(func)} ({type(error).__name__}: {error})")
            self.unattributed[key] = self.unattributed.get(key, 0) + 1
        return out

    def _observe(self, func: Any, args: tuple, kwargs: dict, out: Any) -> None:
        if func in (aten.mm.default, aten.bmm.default):
            self._product(func, args[0], args[1], func, args[:2], out)
        elif func in (aten.addmm.default, aten.baddbmm.default):
            plain = aten.mm.default if func is aten.addmm.default else aten.bmm.default
            self._product(func, args[1], args[2], plain, args[1:3], None)
        elif func is aten.convolution.default:
            x, w = args[0], args[1]
            macs = _conv_macs(x, w, out, bool(args[6]))
            self._record(func, x, w, macs, func, (*args[:2], None, *args[3:9]), None)
        elif func in _ops.SDPA_OPS:
            q, k, v = args[:3]
            scores = torch.empty(0)  # the attention matrix is real-valued (softmax)
            self._record(func, q, k, q.numel() * k.shape[-2], None, (), None, suffix=".qk")
            self._record(
                func,
                scores,
                v,
                q.shape[:-1].numel() * k.shape[-2] * v.shape[-1],
                None,
                (),
                None,
                ".av",
            )
        elif not self._ignored(func):
            key = (self._scope(), resolve_name(func) or str(func))
            self.unattributed[key] = self.unattributed.get(key, 0) + 1

    def _ignored(self, func: Any) -> bool:
        ignored = self._kind_cache.get(func)
        if ignored is None:
            name = resolve_name(func) or ""
            ignored = self._kind_cache[func] = (
                torch.Tag.pointwise in func.tags
                or getattr(func, "is_view", False)
                or name.startswith(_IGNORED_NAMES)
                or not name.startswith("aten.")
            )
        return ignored

    def _spike_stats(self, x: torch.Tensor) -> tuple[bool, float]:
        if x.numel() == 0 or _storage_ptr(x) in self._weight_storages:
            return False, 0.0
        # the same activation often feeds several layers (Q, K and V): analyse it once
        key = (_storage_ptr(x), x.storage_offset(), tuple(x.shape), x.stride(), x.dtype, x._version)
        stats = self._stats_cache.get(key)
        if stats is None:
            stats = self._stats_cache[key] = _spike_stats(x, self.multi_spike)
            # forget the entry when the tensor dies, before its memory can be reused
            self._stats_refs.append(
                weakref.ref(x, lambda _, key=key: self._stats_cache.pop(key, None))
            )
        return stats

    def _product(self, func, x, y, plain, pair_args, out) -> None:
        self._record(func, x, y, _matmul_macs(x, y), plain, pair_args, out)

    def _record(self, func, a, b, macs, pair_func, pair_args, out, suffix: str = "") -> None:
        name = (resolve_name(func) or str(func)).removeprefix("aten.").split(".")[0] + suffix
        site = self._site(self._scope(), name)
        site.calls += 1
        site.dense += macs
        a_bin, a_nnz = self._spike_stats(a)
        b_bin, b_nnz = self._spike_stats(b)
        if a_bin and b_bin and pair_func is not None:
            site.kinds.add("AC2")
            site.pairs += _both_spike_pairs(pair_func, pair_args)
        elif a_bin or b_bin:
            site.kinds.add("AC")
            spike, nnz = (a, a_nnz) if a_bin else (b, b_nnz)
            # fr · dense work: every active input meets its share of the dense work.
            site.pairs += macs * nnz / spike.numel() if spike.numel() else 0
            site.spikes += nnz
            site.spike_numel += spike.numel()
        else:
            site.kinds.add("MAC")

    def report(self, batch_size: int = 1, time_steps: int = 1) -> PaperEnergyReport:
        """Per-sample report of everything counted so far."""
        for name, value in (("batch_size", batch_size), ("time_steps", time_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        rows, warnings = [], []
        seen_real = False
        for site in self.sites.values():
            dense = site.dense / batch_size
            if "MAC" in site.kinds:
                kind, ops, fr = "MAC", dense, None
                if seen_real:
                    warnings.append(
                        f"{site.name} ({site.op}): non-binary input where a spike was expected "
                        "(not the first real-valued layer); counted as MAC"
                    )
                if len(site.kinds) > 1:
                    warnings.append(
                        f"{site.name} ({site.op}): operands were spikes in some calls and real in "
                        "others; all counted as MAC"
                    )
                seen_real = True
            else:
                kind, ops = "AC", site.pairs / batch_size
                fr = site.pairs / site.dense if site.dense else 0.0
            energy = ops * (self.cost.e_mac_pj if kind == "MAC" else self.cost.e_ac_pj)
            rows.append(
                PaperLayerEnergy(
                    name=site.name,
                    op=site.op,
                    flops=dense / time_steps,
                    dense_ops=dense,
                    firing_rate=fr,
                    kind=kind,
                    ops=ops,
                    energy_pj=energy,
                    calls=site.calls,
                )  # fmt: skip
            )
        for (scope, op), calls in self.unattributed.items():
            warnings.append(
                f"{scope}: op {op} ({calls} calls) not attributed by the paper convention"
            )
        mac_ops = sum(r.ops for r in rows if r.kind == "MAC")
        ac_ops = sum(r.ops for r in rows if r.kind == "AC")
        e_mac = mac_ops * self.cost.e_mac_pj * 1e-9
        e_ac = ac_ops * self.cost.e_ac_pj * 1e-9
        return PaperEnergyReport(
            layers=rows, mac_ops=mac_ops, ac_ops=ac_ops, energy_mac_mj=e_mac, energy_ac_mj=e_ac,
            energy_total_mj=e_mac + e_ac, e_mac_pj=self.cost.e_mac_pj, e_ac_pj=self.cost.e_ac_pj,
            batch_size=batch_size, time_steps=time_steps, warnings=warnings,
        )  # fmt: skip


def _resolve_cost(cost: SimpleEnergyCostConfig | str) -> SimpleEnergyCostConfig:
    if isinstance(cost, SimpleEnergyCostConfig):
        return cost
    if isinstance(cost, str) and cost in _PRESETS:
        return _PRESETS[cost]()
    raise ValueError(
        f"cost must be a SimpleEnergyCostConfig or one of {sorted(_PRESETS)}, got {cost!r}"
    )


def _snapshot(model: nn.Module) -> tuple[dict[str, torch.Tensor], list[tuple[nn.Module, dict]]]:
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    memories = [
        (
            m,
            {
                k: v.clone() if torch.is_tensor(v) else copy.deepcopy(v)
                for k, v in m._memories.items()
            },
        )
        for m in model.modules()
        if isinstance(getattr(m, "_memories", None), dict)
    ]
    return buffers, memories


def _restore(
    model: nn.Module, snapshot: tuple[dict[str, torch.Tensor], list[tuple[nn.Module, dict]]]
) -> None:
    buffers, memories = snapshot
    with torch.no_grad():
        for name, b in model.named_buffers():
            if name in buffers and b.shape == buffers[name].shape:
                b.copy_(buffers[name])
    for module, saved in memories:
        module._memories.clear()
        module._memories.update(saved)


def _infer_batch(inputs: Any) -> int:
    tensors = _collect_tensors(inputs)
    if not tensors or tensors[0].dim() == 0:
        return 1
    return int(tensors[0].shape[0])


def estimate_paper_energy(
    model: nn.Module,
    inputs: Any,
    *,
    cost: SimpleEnergyCostConfig | str = "fp32",
    batch_size: int | None = None,
    time_steps: int = 1,
    multi_spike: bool = False,
) -> PaperEnergyReport:
    """Energy of one forward pass per sample, in the papers' convention (module doc).

    Runs ``model(inputs)`` once under ``torch.no_grad`` (a tuple or list of ``inputs`` as
    positional arguments, a dict as keywords) and restores the model's buffers and neuron
    states afterwards, so the call leaves the model as it found it.

    Args:
        model: the network.
        inputs: its input (a tensor, or a tuple/list/dict of arguments).
        cost: per-operation energies or a preset: ``'fp32'`` (4.6 / 0.9 pJ, default),
            ``'fp16'`` (1.5 / 0.4 pJ), ``'int8'`` (0.23 / 0.03 pJ).
        batch_size: samples in ``inputs`` that counts are divided by (default: the first
            dimension of the first input tensor; pass it for ``[T, B, ...]`` inputs).
        time_steps: ``T``; only divides the reported per-step FLOPs column.
        multi_spike: charge non-negative integer-valued inputs (spike counts, such as the
            residual sums of spike tensors in Spikformer blocks) as ACs, one per unit of count
            (``fr`` is then the mean count), instead of as MACs with a warning.

    Returns:
        :class:`PaperEnergyReport` with per-layer rows, totals in mJ and warnings.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    counter = PaperEnergyCounter(cost, model=model, multi_spike=multi_spike)
    batch = _infer_batch(inputs) if batch_size is None else batch_size
    snapshot = _snapshot(model)
    try:
        with torch.no_grad(), counter:
            call_model(model, inputs)
    finally:
        _restore(model, snapshot)
    return counter.report(batch_size=batch, time_steps=time_steps)
