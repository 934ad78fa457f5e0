"""Counters of snn_core.op_counter: hand-computed counts of linear, conv, matmul/bmm and
attention products, and literals from SpikingJelly 2.0.0 on the same tensors.

Reference literals were produced by running ``spikingjelly.activation_based.op_counter``
(2.0.0, /work/venv-ref) on the tensors built by ``_tensors()`` below (saved and reloaded, so
both sides saw identical values) and are ``[FLOPs, MACs, ACs, SynOps, memory bytes]``.
"""

import pytest
import torch
import torch.nn.functional as F
from snn_core import op_counter as oc
from snn_core.base import MemoryModule
from torch import nn


def _counters():
    return [
        oc.FlopCounter(),
        oc.MACCounter(),
        oc.ACCounter(),
        oc.SynOpCounter(),
        oc.MemoryAccessCounter(),
    ]


def _totals(fn):
    counters = _counters()
    with torch.no_grad(), oc.DispatchCounterMode(counters):
        fn()
    return [c.get_total() for c in counters]


def _spikes(*shape, density=0.4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < density).float()


def test_is_binary_tensor():
    assert oc.is_binary_tensor(torch.tensor([0.0, 1.0, 1.0]))
    assert oc.is_binary_tensor(torch.tensor([True, False]))
    assert oc.is_binary_tensor(torch.zeros(3, dtype=torch.int64))
    assert not oc.is_binary_tensor(torch.tensor([0.0, 0.5]))
    assert not oc.is_binary_tensor(torch.tensor([2.0]))


def test_linear_real_input_hand_counts():
    fc = nn.Linear(8, 4)
    x = torch.randn(3, 8)
    flops, macs, acs, synops, mem = _totals(lambda: fc(x))
    assert flops == 2 * 3 * 8 * 4 + 3 * 4  # addmm: 2mkn + bias add
    assert macs == 3 * 8 * 4
    assert acs == 0 and synops == 0
    assert mem == 4 * (3 * 8 + 8 * 4 + 3 * 4 + 4)  # x, W, out, bias bytes


def test_linear_spike_input_counts_active_synapses():
    fc = nn.Linear(8, 4, bias=False)
    x = _spikes(3, 8)
    flops, macs, acs, synops, _ = _totals(lambda: fc(x))
    nnz = int(x.count_nonzero())
    assert macs == 0
    assert acs == synops == nnz * 4  # each spike adds one weight to each of 4 outputs
    assert flops == 2 * 3 * 8 * 4


def test_conv_spike_input_counts_kernel_taps_inside_padding():
    conv = nn.Conv2d(1, 2, 3, padding=1, bias=False)
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0] = 1.0  # corner: 2x2 of the 3x3 taps land inside the output
    x[0, 0, 1, 1] = 1.0  # interior: all 9 taps
    _, macs, acs, synops, _ = _totals(lambda: conv(x))
    assert macs == 0
    assert acs == synops == (4 + 9) * 2


def test_conv_real_input_hand_counts():
    conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    x = torch.randn(2, 3, 9, 9)
    flops, macs, acs, _, _ = _totals(lambda: conv(x))
    positions = 5 * 5
    assert macs == 3 * 9 * positions * 4 * 2
    assert flops == 2 * macs + 2 * 4 * positions
    assert acs == 0


def test_grouped_conv_spike_input():
    conv = nn.Conv2d(4, 6, 1, groups=2, bias=False)
    x = _spikes(1, 4, 3, 3)
    _, _, acs, _, _ = _totals(lambda: conv(x))
    assert acs == int(x.count_nonzero()) * 3  # a spike reaches the 3 channels of its group


def test_matmul_and_bmm_hand_counts():
    a, b = torch.randn(2, 5, 3), torch.randn(2, 3, 4)
    flops, macs, *_ = _totals(lambda: a @ b)
    assert flops == 2 * 2 * 5 * 3 * 4 and macs == 2 * 5 * 3 * 4
    s = _spikes(2, 5, 3)
    _, macs, acs, synops, _ = _totals(lambda: torch.bmm(s, b))
    assert macs == 0 and acs == synops == int(s.count_nonzero()) * 4


def test_attention_products_with_spikes():
    q, k, v = _spikes(2, 3, 5, 4, seed=1), _spikes(2, 3, 5, 4, seed=2), _spikes(2, 3, 5, 4, seed=3)
    attn = q @ k.transpose(-2, -1)
    _, macs, acs, synops, _ = _totals(lambda: (q @ k.transpose(-2, -1)) @ v)
    # Q K^T, both binary: one AC per co-active pair, i.e. the sum of the product.
    # attn @ V: attn holds counts (not binary), V spikes: nnz(V) x 5 query rows.
    assert macs == 0
    assert acs == synops == int(attn.sum()) + int(v.count_nonzero()) * 5


def test_sdpa_flops_formula():
    q = torch.randn(2, 3, 5, 4)
    flops, *_ = _totals(lambda: F.scaled_dot_product_attention(q, q, q))
    assert flops == 2 * 2 * 3 * 5 * 5 * (4 + 4)


def _real(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * 2 - 1


def _layer(layer, seed=0):
    with torch.no_grad():
        for i, p in enumerate(layer.parameters()):
            p.copy_(_real(*p.shape, seed=seed + i))
    return layer


def _reference_cases():
    lin = _layer(nn.Linear(8, 4))
    conv = _layer(nn.Conv2d(4, 6, 3, stride=2, padding=1))
    gconv = _layer(nn.Conv2d(4, 6, 3, padding=1, groups=2, bias=False))
    q, k, v = _spikes(2, 3, 5, 4, seed=1), _spikes(2, 3, 5, 4, seed=2), _spikes(2, 3, 5, 4, seed=3)
    qr = _real(2, 3, 5, 4, seed=4)
    xr, xs, img_s, img_r = (
        _real(3, 8),
        _spikes(3, 8),
        _spikes(2, 4, 9, 9, density=0.3),
        _real(2, 4, 9, 9),
    )
    return {
        "linear_real": lambda: lin(xr),
        "linear_spike": lambda: lin(xs),
        "conv_spike": lambda: conv(img_s),
        "conv_real": lambda: conv(img_r),
        "gconv_spike": lambda: gconv(img_s),
        "attention_spike": lambda: (q @ k.transpose(-2, -1)) @ v,
        "attention_real_q": lambda: (qr @ k.transpose(-2, -1)).softmax(-1) @ v,
        "sdpa_real": lambda: F.scaled_dot_product_attention(qr, qr, qr),
    }


# [FLOPs, MACs, ACs, SynOps, memory bytes] printed by SpikingJelly 2.0.0's op_counter
# (FlopCounter, MACCounter, ACCounter, SynOpCounter, MemoryAccessCounter under
# DispatchCounterMode, torch.no_grad) on the same construction as _reference_cases().
_REFERENCE = {
    "linear_real": [204, 96, 0, 0, 288],
    "linear_spike": [204, 0, 40, 40, 288],
    "conv_spike": [21900, 0, 2640, 2640, 4680],
    "conv_real": [21900, 10800, 0, 0, 4680],
    "gconv_spike": [34992, 0, 4791, 4791, 6912],
    "attention_spike": [2400, 0, 364, 364, 3120],
    "attention_real_q": [2400, 0, 500, 500, 3120],
    "sdpa_real": [2400, 0, 0, 0, 1920],
}


@pytest.mark.parametrize("case", sorted(_REFERENCE))
def test_counts_equal_reference_literals(case):
    assert _totals(_reference_cases()[case]) == _REFERENCE[case]


def test_addmm_alpha_beta_rules():
    bias, x, w = torch.zeros(3, 4), _spikes(3, 8), torch.randn(8, 4)
    flops, macs, acs, synops, mem = _totals(lambda: torch.addmm(bias, x, w, alpha=2.0, beta=0.5))
    assert flops == 2 * 3 * 8 * 4 + 12 + (
        12 + 12
    )  # alpha != 1: +mn; beta not in {0, 1}: +|bias| + mn
    assert macs == 0 and acs == synops == 0  # a scaled spike product is not accumulate-only
    assert mem == 4 * (24 + 32 + 12 + 12)


def test_scopes_name_modules_and_functional_ops():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(4, 4)
            self.fc2 = nn.Linear(4, 2, bias=False)

        def forward(self, x):
            return self.fc2(self.fc1(x) + 1.0)

    counter = oc.FlopCounter()
    with oc.DispatchCounterMode([counter]):
        Net()(torch.randn(1, 4))
    counts = {k: sum(v.values()) for k, v in counter.get_counts().items()}
    assert counts["Net.fc1"] == 2 * 16 + 4
    assert counts["Net.fc2"] == 2 * 8
    assert (
        counts["Net"] == counts["Global"] == counts["Net.fc1"] + counts["Net.fc2"] + 4
    )  # + the add
    assert counter.get_total() == counts["Global"]
    counter.reset()
    assert counter.get_total() == 0


def test_unsupported_ops_are_listed_and_strict_raises():
    counter = oc.MACCounter()
    mode = oc.DispatchCounterMode([counter])
    with mode:
        torch.randn(3).exp()
    assert any("exp" in name for name in mode.get_unsupported(counter))
    with pytest.raises(ValueError, match="does not belong"):
        mode.get_unsupported(oc.MACCounter())
    with pytest.raises(NotImplementedError, match="not defined by MACCounter"):
        with oc.DispatchCounterMode([oc.MACCounter()], strict=True):
            torch.ones(2).exp()


def test_ignore_modules_skip_their_ops():
    net = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    counter = oc.MACCounter(extra_ignore_modules=[nn.Linear])
    with oc.DispatchCounterMode([counter]):
        net(torch.randn(2, 4))
    assert counter.get_total() == 0


def test_function_counter_mode_with_torch_function_rules():
    counter = oc.BaseCounter()
    counter.rules[torch.matmul] = lambda args, kwargs, out: (
        args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
    )
    with oc.FunctionCounterMode([counter]):
        torch.matmul(torch.randn(2, 3), torch.randn(3, 5))
    assert counter.get_total() == 2 * 3 * 5


def test_module_counter_mode_counts_module_events_per_scope():
    class LinearCalls(oc.ModuleCounter):
        def __init__(self):
            super().__init__()
            self.rules[("forward", nn.Linear)] = lambda m, args, kwargs, out: (
                m.in_features * out.shape[0]
            )

    net = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    counter = LinearCalls()
    mode = oc.ModuleCounterMode([counter], model=net)
    with mode:
        net(torch.randn(5, 3))
    assert counter.get_total() == 3 * 5 + 2 * 5
    assert counter.get_counts()["Sequential.2"] == {("forward", nn.Linear): 10}
    with pytest.raises(TypeError, match="model must be"):
        oc.ModuleCounterMode([counter], model="net")


def test_counters_argument_is_checked():
    with pytest.raises(TypeError, match="counters must be a list of BaseCounter"):
        oc.DispatchCounterMode(["flop"])


def test_backward_flops_of_linear():
    fc = nn.Linear(6, 3, bias=False)
    x = torch.randn(4, 6, requires_grad=True)
    counter = oc.FlopCounter()
    with oc.DispatchCounterMode([counter]):
        fc(x).sum().backward()
    mm_flops = counter.get_counts()["Global"][torch.ops.aten.mm.default]
    # forward x@W^T, backward grad@W and grad^T@x: three products of 2·4·6·3 FLOPs.
    assert mm_flops == 3 * 2 * 4 * 6 * 3


class _ToyNeuron(MemoryModule):
    """An IF neuron built on snn_core only: V += X; S = V >= 1; V = V (1 - S)."""

    supported_backends = ("torch",)

    def __init__(self):
        super().__init__()
        self.register_memory("v", 0.0)

    def neuronal_charge(self, x):
        self.v = self.v + x

    def single_step_forward(self, x):
        if not torch.is_tensor(self.v):
            self.v = torch.full_like(x, 0.0)
        self.neuronal_charge(x)
        spike = (self.v >= 1.0).to(x.dtype)
        self.v = self.v * (1.0 - spike)
        return spike


def test_neuron_state_counter_on_a_memory_module_neuron():
    n = _ToyNeuron()
    x = torch.tensor([[0.6, 1.2, 0.1]])
    counter = oc.NeuronStateCounter()
    with torch.no_grad(), oc.DispatchCounterMode([counter]):
        n(x)
        n(x)
    metrics = counter.get_metric_counts()["_ToyNeuron"]
    # per step: V + X (3 adds), V >= 1 (3 comparisons), V * (1 - S) (3 multiplies)
    assert metrics["state_adds"] == 6
    assert metrics["state_comps"] == 6
    assert metrics["state_muls"] == 6


def test_neuromorphic_memory_counter_on_spiking_linear():
    net = nn.Sequential(nn.Linear(4, 3))
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    counter = oc.NeuromorphicMemoryAccessCounter()
    with oc.ModuleCounterMode([counter], model=net):
        net(x)
    counts = counter.get_counts()["Global"]
    assert counts["weight_read_bytes"] == 2 * 3 * 4  # 2 spikes x 3 outputs x 4 bytes
    assert counts["bias_read_bytes"] == 3 * 4
    assert counts["neuron_state_read_bytes"] == 0
