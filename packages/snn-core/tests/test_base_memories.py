"""Network-level state access: named_memories, memories, extract_memories, load_memories,
and the reset values of MemoryModule."""

from __future__ import annotations

import pytest
import torch
from snn_core import base
from snn_core.base import MemoryModule
from torch import nn


class Counter(MemoryModule):
    def __init__(self, *names: str) -> None:
        super().__init__()
        for i, name in enumerate(names):
            self.register_memory(name, float(i))

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Outer(MemoryModule):
    def __init__(self) -> None:
        super().__init__()
        self.register_memory("h", 5.0)
        self.inner = Counter("v")

    def single_step_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


def _net() -> nn.Sequential:
    return nn.Sequential(Counter("v"), nn.Linear(2, 2), nn.Sequential(Counter("a", "b")), Outer())


def test_named_memories_walks_children_depth_first_own_states_first() -> None:
    names = [name for name, _ in base.named_memories(_net())]
    assert names == ["0.v", "2.0.a", "2.0.b", "3.h", "3.inner.v"]


def test_named_memories_prefix() -> None:
    names = [name for name, _ in base.named_memories(_net(), prefix="net")]
    assert names == ["net.0.v", "net.2.0.a", "net.2.0.b", "net.3.h", "net.3.inner.v"]
    assert [n for n, _ in base.named_memories(Counter("v"), prefix="m")] == ["m.v"]


def test_memories_and_extract_memories_give_the_values_in_order() -> None:
    net = _net()
    assert list(base.memories(net)) == [0.0, 0.0, 1.0, 5.0, 0.0]
    state = torch.ones(2)
    net[0].v = state
    extracted = base.extract_memories(net)
    assert isinstance(extracted, list) and extracted[0] is state
    assert base.extract_memories(nn.Linear(2, 2)) == []


def test_load_memories_is_the_inverse_of_extract_memories() -> None:
    net = _net()
    values = [torch.full((1,), float(i)) for i in range(5)]
    base.load_memories(net, values)
    assert net[2][0].b is values[2] and net[3].inner.v is values[4]
    assert base.extract_memories(net) == values
    base.load_memories(net, [1.0, 2.0, 3.0, 4.0, 5.0])
    assert dict(base.named_memories(net))["3.h"] == 4.0


@pytest.mark.parametrize("count", [4, 6])
def test_load_memories_rejects_a_list_of_the_wrong_length(count: int) -> None:
    with pytest.raises(ValueError, match="Memory length mismatch"):
        base.load_memories(_net(), [0.0] * count)


def test_network_functions_reject_non_modules() -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        list(base.named_memories([Counter("v")]))  # type: ignore[arg-type]


def test_get_and_set_reset_value() -> None:
    m = Counter("v", "w")
    assert m.get_reset_value("w") == 1.0
    m.set_reset_value("w", torch.tensor([3.0]))
    m.w = 7.0
    m.reset()
    torch.testing.assert_close(m.w, torch.tensor([3.0]))
    with pytest.raises(KeyError, match="not a registered memory"):
        m.get_reset_value("missing")
    with pytest.raises(KeyError, match="not a registered memory"):
        m.set_reset_value("missing", 0.0)
    del m._memories_rv["v"]
    with pytest.raises(KeyError, match="v has no reset value"):
        m.get_reset_value("v")
