"""The counting fast path (per-context plans, remembered and carried spike analyses, shared
synaptic rules, the separable kernel-tap count) gives the counts of the plain counting loop.

References: the definition of a binary tensor (every element 0 or 1), an indicator
convolution with a ones kernel for kernel-tap counts, float64 sums, and ``_PlainCounting``
below: every op through each counter's own ``has_rule`` / ``count`` / ``record``, without
plans, analysis cache or carried answers.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from snn_core import op_counter as oc
from snn_core import surrogate
from snn_core.op_counter import _binary
from snn_core.op_counter.ac import conv_weight_uses
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten


def _truth(x: torch.Tensor) -> int | None:
    binary = bool(((x == 0) | (x == 1)).all()) or x.dtype == torch.bool
    return int(torch.count_nonzero(x)) if binary else None


def _tensors() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    spikes = (torch.rand(4, 300, generator=g) > 0.7).float()
    late = torch.zeros(4, 300)
    late[3, 299] = 0.5  # binary-looking leading block, one real value at the very end
    almost = spikes.clone()
    almost[2, 7] = 1 - 2**-24
    negative = spikes.clone()
    negative[1, 1] = -1.0
    nan = spikes.clone()
    nan[3, 3] = float("nan")
    signed_zero = spikes.clone()
    signed_zero[0, :5] = -0.0
    return {
        "spikes": spikes,
        "spikes_t": spikes.t(),  # not contiguous
        "late_real": late,
        "almost_one": almost,
        "negative": negative,
        "nan": nan,
        "signed_zero": signed_zero,
        "half": spikes.half(),
        "counts": spikes.long() * 2,
        "int01": spikes.long(),
        "bool": spikes.bool(),
        "real": torch.rand(3, 500, generator=g),
        "small": torch.tensor([0.0, 1.0, 1.0]),
        "empty": torch.zeros(0, 3),
    }


@pytest.mark.parametrize("cached", [False, True])
@pytest.mark.parametrize("name", list(_tensors()))
def test_binary_analysis_matches_the_definition(name: str, cached: bool) -> None:
    x = _tensors()[name]
    if cached:
        _binary.use_analysis_cache(True)
    try:
        for _ in range(2):  # the second call reads the cache when it is on
            assert _binary.binary_nnz(x) == _truth(x)
            assert oc.is_binary_tensor(x) == (_truth(x) is not None)
    finally:
        if cached:
            _binary.use_analysis_cache(False)


def _carried(func, args: tuple, kwargs: dict | None = None):
    """What note_result carries to ``func``'s output, after the inputs were analysed."""
    kwargs = kwargs or {}
    for a in args:
        for t in a if isinstance(a, (list, tuple)) else [a]:
            if torch.is_tensor(t):
                _binary.binary_nnz(t)
    out = func(*args, **kwargs)
    _binary.note_result(func, args, kwargs, out)
    result = out[0] if isinstance(out, tuple) else out
    return result, _binary._state(result)


def _provenance_cases() -> list:
    g = torch.Generator().manual_seed(1)
    s = (torch.rand(2, 3, 8, 8, generator=g) > 0.5).float()
    r = torch.rand(2, 3, 8, 8, generator=g)
    return [
        (aten.view.default, (s, [6, 64])),
        (aten.view.default, (r, [6, 64])),
        (aten.clone.default, (s,)),
        (aten.t.default, (s[0, 0],)),
        (aten.transpose.int, (r, 1, 2)),
        (aten.select.int, (s, 0, 1)),
        (aten.slice.Tensor, (s, 1, 0, 2)),
        (aten.expand.default, (s[:, :1], [2, 5, 8, 8])),
        (aten.stack.default, ([s, s],)),
        (aten.cat.default, ([s, r],)),
        (aten._to_copy.default, (r > 0.5,), {"dtype": torch.float32}),
        (aten._to_copy.default, (s,), {"dtype": torch.float16}),
        (aten._to_copy.default, (r * 4,), {"dtype": torch.int64}),  # real -> may be 0/1
        (aten.max_pool2d_with_indices.default, (s, [2, 2], [2, 2])),
        (aten.max_pool2d_with_indices.default, (r, [2, 2], [2, 2])),
        (aten.full_like.default, (r, 0.0)),
        (aten.full_like.default, (r, 1.0)),
        (aten.full_like.default, (r, 0.5)),
        (aten.zeros_like.default, (r,)),
        (aten.ones_like.default, (r,)),
    ]


@pytest.mark.parametrize("case", _provenance_cases(), ids=lambda c: str(c[0]))
def test_carried_answers_match_a_fresh_analysis(case) -> None:
    func, args, *kw = case
    _binary.use_analysis_cache(True)
    try:
        out, state = _carried(func, args, *kw)
        truth = _truth(out)
        if state is _binary._BINARY:
            assert truth is not None
        elif state is not _binary._MISSING:
            assert state == truth
        assert _binary.binary_nnz(out) == truth
    finally:
        _binary.use_analysis_cache(False)


def _indicator_taps(x, w, stride, padding, dilation, groups) -> int:
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[w.dim() - 2]
    ones = torch.ones(groups, w.shape[1], *w.shape[2:], dtype=torch.float64)
    occupancy = conv((x != 0).double(), ones, None, stride, padding, dilation, groups)
    return int(occupancy.sum()) * (w.shape[0] // groups)


@pytest.mark.parametrize(
    "spatial, kernel, stride, padding, dilation, groups",
    [
        ((9,), (3,), (2,), (1,), (1,), 1),
        ((7, 8), (3, 3), (1, 1), (1, 1), (1, 1), 1),
        ((7, 8), (3, 2), (2, 3), (2, 0), (2, 1), 2),
        ((5, 6, 4), (2, 3, 1), (1, 2, 1), (1, 0, 0), (1, 1, 1), 4),
    ],
)
@pytest.mark.parametrize("binary", [True, False])
def test_conv_weight_uses_matches_an_indicator_convolution(
    spatial, kernel, stride, padding, dilation, groups, binary
) -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.rand(3, 4, *spatial, generator=g)
    x = (x > 0.6).float() if binary else x * (x > 0.4)
    w = torch.randn(8, 4 // groups, *kernel, generator=g)
    got = conv_weight_uses(x, w, stride, padding, dilation, groups)
    assert got == _indicator_taps(x, w, stride, padding, dilation, groups)


def test_exact_integer_sum_equals_a_float64_sum() -> None:
    g = torch.Generator().manual_seed(3)
    counts = torch.randint(0, 40, (64, 300), generator=g).float()
    assert int(_binary.exact_integer_sum(counts, 40)) == int(counts.double().sum())
    assert torch.equal(
        _binary.exact_integer_sum(counts, 40, dim=1).double(), counts.double().sum(1)
    )
    big = torch.ones(2**12, 2**12 + 1)  # 2**24 + 2**12 ones: past float32's exact range
    assert int(_binary.exact_integer_sum(big)) == 2**24 + 2**12


# ----------------------------------------------------------------- counts against the plain loop
class _PlainCounting(TorchDispatchMode):
    """The counting loop without the fast path (see the module doc)."""

    def __init__(self, counters: list[oc.BaseCounter]) -> None:
        super().__init__()
        self.counters = counters
        self.tracker = oc.ActiveModuleTracker()
        self.unsupported: dict[oc.BaseCounter, dict[str, int]] = {c: {} for c in counters}

    def __enter__(self):
        self.tracker.__enter__()
        return super().__enter__()

    def __exit__(self, *args):
        super().__exit__(*args)
        self.tracker.__exit__(*args)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        active, parents = set(self.tracker.active_modules), set(self.tracker.parents)
        for counter in self.counters:
            if not counter.has_rule(func):
                names = self.unsupported[counter]
                names[str(func)] = names.get(str(func), 0) + 1
                continue
            value = counter.count(
                func, args, kwargs, out, active_modules=active, parent_names=parents
            )
            for scope in parents:
                counter.record(scope, func, value)
            finalize = getattr(counter, "finalize_record", None)
            if finalize is not None:
                finalize()
        return out


class _Spiking(nn.Module):
    """A leaky integrate-and-fire loop over T written with plain torch ops."""

    def __init__(self) -> None:
        super().__init__()
        self.spike = surrogate.Sigmoid()

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        v = torch.zeros_like(x_seq[0])
        out = []
        for x in x_seq:
            h = v * 0.5 + x
            s = self.spike(h - 1.0)
            v = h * (1.0 - s)
            out.append(s)
        return torch.stack(out)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.lif1 = _Spiking()
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False)
        self.lif2 = _Spiking()
        self.q, self.k = nn.Linear(8, 8), nn.Linear(8, 8)
        self.lif3 = _Spiking()
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, 3, 8, 8]
        t, b = x.shape[:2]
        y = self.bn(self.conv(x.flatten(0, 1))).unflatten(0, (t, b))
        s = self.lif1(y)
        s = self.lif2(self.conv2(s.flatten(0, 1)).unflatten(0, (t, b)))  # [T, B, 8, 4, 4]
        tokens = s.flatten(3).transpose(-1, -2)  # [T, B, 16, 8]
        q, k = self.lif3(self.q(tokens)), self.lif3(self.k(tokens))
        attn = (q @ k.transpose(-1, -2)) @ tokens * 0.25
        pooled = F.max_pool2d(s.flatten(0, 1), 1).unflatten(0, (t, b))
        return self.fc((pooled + attn.transpose(-1, -2).reshape(t, b, 8, 4, 4)).flatten(2))


def _counters() -> list[oc.BaseCounter]:
    return [oc.FlopCounter(), oc.MACCounter(), oc.ACCounter(), oc.SynOpCounter()]


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("train", [False, True])
def test_fast_path_counts_equal_the_plain_loop(grad: bool, train: bool) -> None:
    torch.manual_seed(0)
    net = _Net().train(train)
    x = (torch.rand(3, 2, 3, 8, 8) * 2).requires_grad_(grad)
    results = []
    for mode_type in (_PlainCounting, oc.DispatchCounterMode):
        counters = _counters()
        state = {k: v.clone() for k, v in net.state_dict().items()}
        with torch.set_grad_enabled(grad), mode_type(counters) as mode:
            out = net(x)
            if grad:
                out.sum().backward()
        net.load_state_dict(state)
        net.zero_grad(set_to_none=True)  # the next backward then does the same work
        x.grad = None
        unsupported = (
            mode.unsupported
            if isinstance(mode, _PlainCounting)
            else {c: {str(k): v for k, v in _by_op(mode, c).items()} for c in counters}
        )
        results.append(([c.get_counts() for c in counters], list(unsupported.values()), out))
    (plain, plain_unsup, plain_out), (fast, fast_unsup, fast_out) = results
    assert fast == plain
    assert fast_unsup == plain_unsup
    assert torch.equal(fast_out, plain_out)


def _by_op(mode: oc.DispatchCounterMode, counter: oc.BaseCounter) -> dict[str, int]:
    # get_unsupported names ops by resolve_name ('aten.add.Tensor'), as str() does
    return mode.get_unsupported(counter)


def test_counts_are_visible_inside_the_context_and_reset_clears_them() -> None:
    counter = oc.FlopCounter()
    x = torch.rand(4, 5)
    with oc.DispatchCounterMode([counter]):
        x + x
        assert counter.get_total() == 20  # read while counting: every count so far
        x * x
        assert counter.records["Global"] == {aten.add.Tensor: 20, aten.mul.Tensor: 20}
        x + x
        counter.reset()  # drops what was counted before, also what was not yet added
        x - x
    assert counter.get_counts() == {"Global": {aten.sub.Tensor: 20}}


def test_meta_tensors_are_counted_without_reading_values() -> None:
    """Meta tensors have no values: filled states (``full_like``) and layers on them count
    their operations without the spike checks reading an element, and their inputs count as
    dense, not spikes (SpikingJelly 2.0.0's
    ``test_neuron_state_counter_supports_meta_tensor_storage_keys`` runs a neuron so)."""
    x = torch.empty((2, 4), device="meta")
    w = torch.empty((3, 4), device="meta")
    flops, macs, acs = oc.FlopCounter(), oc.MACCounter(), oc.ACCounter()
    with oc.DispatchCounterMode([flops, macs, acs, oc.SynOpCounter()]):
        v = torch.full_like(x, 0.5)  # a neuron's first state
        y = F.linear(v + x, w)
        torch.ones_like(y)
    assert y.is_meta and y.shape == (2, 3)
    # the linear layer on (unknown, so dense) input is MACs; AC counts only the add v + x
    assert macs.get_total() == 2 * 3 * 4 and acs.get_total() == 2 * 4
    assert flops.get_total() > 0
