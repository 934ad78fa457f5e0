"""Counting with snn_neurons neurons: DispatchCounterMode's fast path gives the counts of the
plain counting loop (every op through each counter's own has_rule / count / record, no
caches), and a counted forward leaves outputs and neuron states as an uncounted one."""

from __future__ import annotations

import pytest
import torch
from snn_core import functional
from snn_core import op_counter as oc
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

snn_neurons = pytest.importorskip("snn_neurons")
snn_layers = pytest.importorskip("snn_layers")


class _PlainCounting(TorchDispatchMode):
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


def _conv_snn(neuron: str) -> nn.Module:
    make = {
        "if": lambda: snn_neurons.IFNode(),
        "lif": lambda: snn_neurons.LIFNode(tau=2.0, v_reset=None),
        "plif": lambda: snn_neurons.ParametricLIFNode(),
    }[neuron]
    return nn.Sequential(
        snn_layers.Conv2d(2, 8, 3, padding=1, bias=False), snn_layers.BatchNorm2d(8), make(),
        snn_layers.Conv2d(8, 8, 3, padding=1), make(), snn_layers.MaxPool2d(2),
        snn_layers.Flatten(), snn_layers.Linear(8 * 4 * 4, 4), make(),
    )  # fmt: skip


class _AttentionBlock(nn.Module):
    """Spike-driven attention: Q/K/V linear + LIF, (Q K^T) V, projection, residual."""

    def __init__(self, dim: int = 16, heads: int = 2) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.ModuleList(
            nn.Sequential(snn_layers.Linear(dim, dim), snn_neurons.LIFNode(tau=2.0))
            for _ in range(3)
        )
        self.attn_lif = snn_neurons.LIFNode(tau=2.0, v_threshold=0.5)
        self.proj = snn_layers.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [T, B, N, D] spikes
        t, b, n, d = x.shape
        q, k, v = (
            m(x).reshape(t, b, n, self.heads, d // self.heads).transpose(2, 3) for m in self.qkv
        )
        attn = (q @ k.transpose(-2, -1)) @ v * 0.25
        return x + self.proj(self.attn_lif(attn.transpose(2, 3).reshape(t, b, n, d)))


def _case(name: str) -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    if name == "attention":
        return _AttentionBlock(), (torch.rand(3, 2, 6, 16) > 0.5).float() * 1.0
    return _conv_snn(name), torch.rand(3, 2, 2, 8, 8) * 3


def _forward(net: nn.Module, x: torch.Tensor, step_mode: str) -> torch.Tensor:
    if step_mode == "m":
        return net(x)
    return torch.stack([net(x_t) for x_t in x])


def _run(net, x, step_mode, mode_type, grad):
    counters = [oc.FlopCounter(), oc.MACCounter(), oc.ACCounter(), oc.SynOpCounter()]
    functional.reset_net(net)
    with torch.set_grad_enabled(grad), mode_type(counters) as mode:
        out = _forward(net, x, step_mode)
        if grad and step_mode == "m":
            out.sum().backward()
    states = [m.v.clone() for m in net.modules() if isinstance(getattr(m, "v", None), torch.Tensor)]
    functional.reset_net(net)
    net.zero_grad(set_to_none=True)
    if isinstance(mode, _PlainCounting):
        unsupported = list(mode.unsupported.values())
    else:
        unsupported = [mode.get_unsupported(c) for c in counters]
    return [c.get_counts() for c in counters], unsupported, out.detach(), states


# the attention block takes [T, B, N, D] sequences only (multi-step)
_CASES = [("if", "m"), ("if", "s"), ("lif", "m"), ("lif", "s"), ("plif", "m"), ("plif", "s")]
_CASES.append(("attention", "m"))


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize("name, step_mode", _CASES)
def test_fast_path_counts_equal_the_plain_loop(name: str, step_mode: str, grad: bool) -> None:
    net, x = _case(name)
    functional.set_step_mode(net, step_mode)
    plain = _run(net, x, step_mode, _PlainCounting, grad)
    fast = _run(net, x, step_mode, oc.DispatchCounterMode, grad)
    assert fast[0] == plain[0]
    assert fast[1] == plain[1]
    assert torch.equal(fast[2], plain[2])


@pytest.mark.parametrize("name, step_mode", [c for c in _CASES if c[0] != "lif"])
def test_counted_forward_leaves_outputs_and_states_unchanged(name: str, step_mode: str) -> None:
    net, x = _case(name)
    net.eval()
    functional.set_step_mode(net, step_mode)
    with torch.no_grad():
        functional.reset_net(net)
        want = _forward(net, x, step_mode)
        want_states = [
            m.v.clone() for m in net.modules() if isinstance(getattr(m, "v", None), torch.Tensor)
        ]
        params = [p.clone() for p in net.state_dict().values()]
    counts, _, out, states = _run(net, x, step_mode, oc.DispatchCounterMode, False)
    assert counts[0]["Global"]  # something was counted
    assert torch.equal(out, want)  # spikes and the residual sum: exactly equal
    assert len(states) == len(want_states)
    for got, ref in zip(states, want_states):
        torch.testing.assert_close(got, ref, rtol=0, atol=1e-6)
    for got, ref in zip(net.state_dict().values(), params):
        assert torch.equal(got, ref)
