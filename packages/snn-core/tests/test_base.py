"""snn_core.base: step modes, memories, reset/detach, shapes, .to(), state_dict, pickling."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from snn_core.base import (
    MemoryModule,
    MultiStepModule,
    SingleStepModule,
    StepModule,
    check_multi_step_input,
)
from torch import nn


class Accumulator(MemoryModule):
    """y[t] = v[t] = decay * v[t-1] + x[t]; a hand-checkable stateful module."""

    def __init__(self, decay: float = 0.5, step_mode: str = "s") -> None:
        super().__init__()
        self.decay = decay
        self.step_mode = step_mode
        self.register_memory("v", 0.0)
        self.register_memory("count", 0, persistent=True)

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        self.init_memory_like("v", x)
        self.v = self.decay * self.v + x
        self.count = self.count + 1
        return self.v


class Wrapped(nn.Linear, StepModule):
    def __init__(self) -> None:
        super().__init__(2, 2)
        self.step_mode = "s"


def test_step_mode_validated() -> None:
    m = Accumulator()
    assert m.step_mode == "s"
    m.step_mode = "m"
    assert m.step_mode == "m"
    with pytest.raises(ValueError, match=r"step_mode can only be one of \('s', 'm'\).*got 'x'"):
        m.step_mode = "x"
    with pytest.raises(ValueError, match="got 1"):
        Accumulator(step_mode=1)  # type: ignore[arg-type]
    w = Wrapped()
    w.step_mode = "m"
    assert w.step_mode == "m"


def test_single_and_multi_step_only_modules() -> None:
    class S(nn.Module, SingleStepModule):
        pass

    class M(nn.Module, MultiStepModule):
        pass

    s, m = S(), M()
    s.step_mode = "s"
    m.step_mode = "m"
    with pytest.raises(ValueError, match=r"\('s',\)"):
        s.step_mode = "m"
    with pytest.raises(ValueError, match=r"\('m',\)"):
        m.step_mode = "s"
    assert MultiStepModule.extra_repr(m) == "step_mode=m"


def test_multi_step_equals_hand_computed_recurrence() -> None:
    x_seq = torch.tensor([[1.0], [2.0], [4.0]])
    m = Accumulator(decay=0.5, step_mode="m")
    y = m(x_seq)
    # v1 = 1, v2 = 0.5 + 2 = 2.5, v3 = 1.25 + 4 = 5.25
    assert y.tolist() == [[1.0], [2.5], [5.25]]
    assert m.v.tolist() == [5.25]
    assert m.count == 3


def test_reset_restores_registered_values() -> None:
    m = Accumulator()
    m(torch.ones(2))
    assert isinstance(m.v, torch.Tensor)
    m.reset()
    assert m.v == 0.0 and isinstance(m.v, float)
    assert m.count == 0
    assert dict(m.named_memories()) == {"v": 0.0, "count": 0}
    assert list(m.memories()) == [0.0, 0]


def test_new_shape_without_reset_is_a_clear_error() -> None:
    m = Accumulator()
    m(torch.ones(4, 3))
    with pytest.raises(ValueError, match=r"Accumulator\.v.*\(4, 3\).*\(2, 3\).*reset\(\)"):
        m(torch.ones(2, 3))
    m.reset()
    assert m(torch.ones(2, 3)).shape == (2, 3)


def test_detach_cuts_the_graph() -> None:
    m = Accumulator()
    x1 = torch.ones(2, requires_grad=True)
    m(x1)
    m.detach()
    assert not m.v.requires_grad
    x2 = torch.ones(2, requires_grad=True)
    m(x2).sum().backward()
    assert x1.grad is None
    assert torch.equal(x2.grad, torch.ones(2))


def test_state_dict_excludes_non_persistent_memories() -> None:
    m = Accumulator()
    m(torch.ones(2))
    sd = m.state_dict()
    assert "v" not in sd
    assert sd["count"] == 1
    fresh = Accumulator()
    fresh.load_state_dict(sd)
    assert fresh.count == 1
    with pytest.raises(RuntimeError, match="Missing key"):
        fresh.load_state_dict({})


def test_state_dict_nested_prefixes() -> None:
    net = nn.Sequential(nn.Linear(2, 2), Accumulator())
    net(torch.ones(1, 2))
    sd = net.state_dict()
    assert set(sd) == {"0.weight", "0.bias", "1.count"}
    other = nn.Sequential(nn.Linear(2, 2), Accumulator())
    other.load_state_dict(sd, strict=True)
    assert other[1].count == 1


def test_to_moves_state_and_changes_dtype() -> None:
    m = Accumulator()
    m(torch.ones(2))
    m.to(torch.float64)
    assert m.v.dtype == torch.float64
    m.register_memory("buf", torch.zeros(3))
    m.to(torch.float16)
    assert m.buf.dtype == torch.float16
    m.reset()
    assert m.buf.dtype == torch.float16  # the reset value moved too


def test_pickle_and_deepcopy_keep_state() -> None:
    m = Accumulator()
    m(torch.tensor([3.0]))
    for clone in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert clone.v.tolist() == [3.0]
        clone.reset()
        assert clone.v == 0.0
    assert m.v.tolist() == [3.0]


def test_register_memory_rejects_existing_attributes_and_bad_names() -> None:
    m = Accumulator()
    with pytest.raises(AttributeError, match="decay"):
        m.register_memory("decay", 0.0)
    with pytest.raises(ValueError, match="identifier"):
        m.register_memory("not a name", 0.0)


def test_delattr_removes_memory() -> None:
    m = Accumulator()
    del m.count
    assert "count" not in dict(m.named_memories())
    assert "count" not in m.state_dict()


def test_check_multi_step_input() -> None:
    check_multi_step_input(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"x_seq must have at least 2 dimensions.*\(5,\)"):
        check_multi_step_input(torch.zeros(5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_multi_step_input([1, 2])  # type: ignore[arg-type]
    m = Accumulator(step_mode="m")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        m(torch.zeros(5))


def test_extra_repr_shows_step_mode() -> None:
    assert "step_mode=s" in repr(Accumulator())
