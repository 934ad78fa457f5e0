"""The functional-forward protocol of MemoryModule and base.to_functional_forward."""

from __future__ import annotations

import pytest
import torch
from snn_core import base
from snn_core.base import MemoryModule
from torch import nn


class Leaky(MemoryModule):
    """v[t] = decay * v[t-1] + x[t]; output w * v[t]. State v starts as None (zeros)."""

    def __init__(self, decay: float = 0.5, step_mode: str = "s") -> None:
        super().__init__()
        self.decay = decay
        self.w = nn.Parameter(torch.tensor(2.0))
        self.register_memory("v", None)
        self.step_mode = step_mode

    def materialize_states(self, inputs, states, step_mode):
        (v,) = states
        if v is None:
            x = inputs[0][0] if step_mode == "m" else inputs[0]
            v = torch.zeros_like(x)
        return (v,)

    def single_step_functional_forward(self, inputs, states, **kwargs):
        (x,), (v,) = inputs, states
        v = self.decay * v + x * kwargs.get("gain", 1.0)
        return (self.w * v,), (v,)


def _closed_form(x_seq: torch.Tensor, v0: torch.Tensor, decay: float, w: float):
    """Outputs w * v[t], v[t] = decay^(t+1) v0 + sum_k decay^(t-k) x[k], written out."""
    outs, v = [], v0
    for t in range(x_seq.shape[0]):
        v = decay ** (t + 1) * v0 + sum(decay ** (t - k) * x_seq[k] for k in range(t + 1))
        outs.append(w * v)
    return torch.stack(outs), v


def test_functional_forward_is_pure_and_matches_the_equations() -> None:
    m = Leaky(decay=0.5, step_mode="m")
    x_seq, v0 = torch.randn(4, 3), torch.randn(3)
    (y,), (v,) = m.functional_forward((x_seq,), (v0,))
    y_ref, v_ref = _closed_form(x_seq, v0, 0.5, 2.0)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(v, v_ref)
    assert m.v is None  # the module's own state is untouched


def test_default_forwards_run_the_functional_step_and_store_state() -> None:
    m = Leaky(decay=0.25)
    x_seq = torch.randn(3, 2)
    ys = [m(x) for x in x_seq]
    y_ref, v_ref = _closed_form(x_seq, torch.zeros(2), 0.25, 2.0)
    torch.testing.assert_close(torch.stack(ys), y_ref)
    torch.testing.assert_close(m.v, v_ref)
    m.reset()
    m.step_mode = "m"
    torch.testing.assert_close(m(x_seq, gain=2.0), 2.0 * y_ref)
    torch.testing.assert_close(m.v, 2.0 * v_ref)


def test_several_inputs_outputs_and_one_dimensional_time() -> None:
    class Pair(MemoryModule):
        def __init__(self) -> None:
            super().__init__()
            self.register_memory("left", torch.tensor(2.0))
            self.register_memory("right", torch.tensor(5.0))

        def single_step_functional_forward(self, inputs, states, **kwargs):
            (x, y), (left, right) = inputs, states
            left, right = left + x, right + y
            return (x + left, y - right), (left, right)

    m = Pair()
    a, b = m.single_step_forward(torch.tensor(1.0), torch.tensor(3.0))
    assert (a.item(), b.item(), m.left.item(), m.right.item()) == (4.0, -5.0, 3.0, 8.0)
    a_seq, b_seq = m.multi_step_forward(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(a_seq, torch.tensor([5.0, 8.0]))
    torch.testing.assert_close(b_seq, torch.tensor([-8.0, -8.0]))
    assert (m.left.item(), m.right.item()) == (6.0, 9.0)


def test_functional_forward_rejects_wrong_arguments() -> None:
    m = Leaky()
    with pytest.raises(ValueError, match=r"expected 1 states \('v',\), got 2"):
        m.functional_forward((torch.zeros(2),), (None, None))
    with pytest.raises(TypeError, match="inputs must be a tuple"):
        m.functional_forward(torch.zeros(2), (None,))
    with pytest.raises(TypeError, match="states must be a tuple"):
        m.functional_forward((torch.zeros(2),), None)


class StatefulOnly(MemoryModule):
    """Implements only the stateful step: s = s + x; returns s."""

    def __init__(self) -> None:
        super().__init__()
        self.register_memory("s", torch.tensor(10.0))

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.s = self.s + x
        return self.s


def test_stateful_only_module_keeps_its_loop_and_has_no_functional_forward() -> None:
    m = StatefulOnly()
    m.step_mode = "m"
    y = m(torch.tensor([[1.0], [2.0]]))
    torch.testing.assert_close(y, torch.tensor([[11.0], [13.0]]))
    with pytest.raises(NotImplementedError, match="single_step_functional_forward"):
        m.functional_forward((torch.ones(2, 1),), (torch.tensor(0.0),))


def test_to_functional_forward_swaps_states_in_and_out() -> None:
    m = StatefulOnly()
    fn = base.to_functional_forward(m)
    (y,), (s,) = fn((torch.tensor(1.0),), (torch.tensor(3.0),))
    assert (y.item(), s.item(), m.s.item()) == (4.0, 4.0, 10.0)
    with pytest.raises(ValueError, match="expected 1 states, but got 0"):
        fn((torch.tensor(1.0),), ())


def test_to_functional_forward_restores_states_when_forward_raises() -> None:
    class Failing(StatefulOnly):
        def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
            self.s = self.s + x
            raise RuntimeError("boom")

    m = Failing()
    with pytest.raises(RuntimeError, match="boom"):
        base.to_functional_forward(m)((torch.tensor(1.0),), (torch.tensor(3.0),))
    assert m.s.item() == 10.0


def test_to_functional_forward_custom_fn_and_nested_states() -> None:
    class Outer(MemoryModule):
        def __init__(self) -> None:
            super().__init__()
            self.register_memory("count", 0)
            self.inner = StatefulOnly()

        def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
            self.count += 1
            return self.inner(x)

        def twice(self, x: torch.Tensor) -> torch.Tensor:
            self.count += 2
            return 2 * self.inner(x)

    m = Outer()
    (y,), states = base.to_functional_forward(m, m.twice)(
        (torch.tensor(1.0),), (5, torch.tensor(0.0))
    )
    assert (y.item(), states[0], states[1].item()) == (2.0, 7, 1.0)
    assert (m.count, m.inner.s.item()) == (0, 10.0)


def test_to_functional_forward_uses_the_functional_step_directly() -> None:
    class NoStatefulForward(Leaky):
        def forward(self, *args, **kwargs):
            raise AssertionError("the stateful forward must not run")

    m = NoStatefulForward(decay=0.5, step_mode="m")
    x_seq, v0 = torch.randn(3, 2), torch.randn(2)
    (y,), (v,) = base.to_functional_forward(m)((x_seq,), (v0,))
    y_ref, v_ref = _closed_form(x_seq, v0, 0.5, 2.0)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(v, v_ref)


def test_to_functional_forward_sequential_chains_functional_children() -> None:
    class Split(nn.Module):
        def forward(self, x: torch.Tensor, *, scale: float = 1.0):
            return x * scale

    first, second = Leaky(decay=0.5), Leaky(decay=0.25)
    first.forward = None  # type: ignore[assignment]  # the chain must not call it
    net = nn.Sequential(Split(), first, nn.Identity(), second)
    fn = base.to_functional_forward(net)
    x, v1, v2 = torch.randn(2), torch.randn(2), torch.randn(2)
    (y,), (n1, n2) = fn((x,), (v1, v2), scale=3.0)
    torch.testing.assert_close(n1, 0.5 * v1 + 3.0 * x)
    torch.testing.assert_close(n2, 0.25 * v2 + 2.0 * n1)
    torch.testing.assert_close(y, 2.0 * n2)
    assert first.v is None and second.v is None


def test_to_functional_forward_stateless_module() -> None:
    lin = nn.Linear(3, 2)
    x = torch.randn(4, 3)
    outputs, states = base.to_functional_forward(lin)((x,), ())
    assert states == ()
    torch.testing.assert_close(outputs[0], lin(x))


class _Call(nn.Module):
    """Lets torch.func.functional_call reach functional_forward (it calls forward)."""

    def __init__(self, module: MemoryModule) -> None:
        super().__init__()
        self.module = module

    def forward(self, inputs, states):
        return self.module.functional_forward(inputs, states)


def test_functional_forward_under_torch_func() -> None:
    m = Leaky(decay=0.5, step_mode="m")
    x_seq, v0 = torch.randn(3, 4), torch.randn(4)

    def loss(params: dict, v: torch.Tensor) -> torch.Tensor:
        (y,), _ = torch.func.functional_call(_Call(m), params, ((x_seq,), (v,)))
        return y.sum()

    params = {"module.w": torch.tensor(3.0)}
    g_w, g_v = torch.func.grad(loss, argnums=(0, 1))(params, v0)
    y_ref, _ = _closed_form(x_seq, v0, 0.5, 1.0)  # d sum(w v) / dw = sum(v)
    torch.testing.assert_close(g_w["module.w"], y_ref.sum())
    # d sum_t w v[t] / d v0 = w * (0.5 + 0.25 + 0.125)
    torch.testing.assert_close(g_v, torch.full((4,), 3.0 * 0.875))

    xs, vs = torch.randn(5, 3, 4), torch.randn(5, 4)
    (ys,), (vn,) = torch.func.vmap(lambda x, v: m.functional_forward((x,), (v,)))(xs, vs)
    for b in range(5):
        y_b, v_b = _closed_form(xs[b], vs[b], 0.5, 2.0)
        torch.testing.assert_close(ys[b], y_b)
        torch.testing.assert_close(vn[b], v_b)


def test_to_functional_forward_under_torch_compile() -> None:
    m = Leaky(decay=0.5, step_mode="m")
    fn = base.to_functional_forward(m)
    compiled = torch.compile(fn, backend="eager")
    x_seq, v0 = torch.randn(3, 2), torch.randn(2)
    (y,), (v,) = compiled((x_seq,), (v0,))
    y_ref, v_ref = _closed_form(x_seq, v0, 0.5, 2.0)
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(v, v_ref)
    assert m.v is None


def test_has_functional_forward_by_step_mode() -> None:
    class SequenceOnly(MemoryModule):
        def multi_step_functional_forward(self, inputs, states, **kwargs):
            return inputs, states

    assert Leaky().has_functional_forward("s") and Leaky().has_functional_forward("m")
    assert not StatefulOnly().has_functional_forward()
    assert SequenceOnly().has_functional_forward("m")
    assert not SequenceOnly().has_functional_forward("s")
    with pytest.raises(ValueError, match="step_mode"):
        Leaky().has_functional_forward("x")


def test_an_overridden_stateful_step_wins_in_multi_step_mode() -> None:
    class Doubled(Leaky):
        """A subclass changes the stateful step; its inherited functional step is stale."""

        def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
            self.v = 2.0 * x
            return self.v

        def has_functional_forward(self, step_mode: str | None = None) -> bool:
            return False

    m = Doubled(step_mode="m")
    x_seq = torch.randn(3, 2)
    torch.testing.assert_close(m(x_seq), 2.0 * x_seq)
    m.v = torch.full((2,), 7.0)
    (y,), (v,) = base.to_functional_forward(m)((x_seq,), (torch.zeros(2),))
    torch.testing.assert_close(y, 2.0 * x_seq)
    torch.testing.assert_close(v, 2.0 * x_seq[-1])
    torch.testing.assert_close(m.v, torch.full((2,), 7.0))  # the swap path restored it
