"""reset_net's cache of resettable modules: reuse, and recollection after any tree change."""

import gc

import torch
from snn_core import MemoryModule, functional
from snn_core.functional import reset_cache
from torch import nn


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def reset(self):
        self.calls += 1


class State(MemoryModule):
    def __init__(self):
        super().__init__()
        self.register_memory("s", 0.0)

    def single_step_forward(self, x):
        self.s = self.s + x
        return self.s


def test_collect_reset_modules_finds_callable_reset_in_module_order():
    class NotCallable(nn.Module):
        def __init__(self):
            super().__init__()
            self.reset = 3

    net = nn.Sequential(Counter(), NotCallable(), nn.Sequential(nn.ReLU(), State()))
    assert functional.collect_reset_modules(net) == (net[0], net[2][1])


def test_reset_collected_modules_calls_each_once():
    a, b = Counter(), Counter()
    functional.reset_collected_modules((a, b))
    assert (a.calls, b.calls) == (1, 1)


def test_reset_net_resets_state_and_reuses_the_cached_tuple():
    net = nn.Sequential(nn.Linear(2, 2), State())
    net(torch.ones(1, 2))
    functional.reset_net(net)
    assert net[1].s == 0.0
    cached = reset_cache._RESET_MODULE_CACHE[net]
    functional.reset_net(net)
    assert reset_cache._RESET_MODULE_CACHE[net] is cached


def test_reset_net_sees_a_swapped_module_without_invalidation():
    net = nn.Sequential(Counter())
    functional.reset_net(net)
    old, new = net[0], Counter()
    net[0] = new
    functional.reset_net(net)
    assert (old.calls, new.calls) == (1, 1)


def test_reset_net_sees_modules_added_deep_and_removed():
    inner = nn.Sequential(Counter())
    net = nn.Sequential(inner)
    functional.reset_net(net)
    added = Counter()
    inner.append(added)
    functional.reset_net(net)
    assert added.calls == 1
    removed = inner[0]
    del inner[0]
    functional.reset_net(net)
    assert net[0][0] is added and added.calls == 2 and removed.calls == 2
    lst = nn.ModuleList([Counter()])
    net.lst = lst
    functional.reset_net(net)
    lst.insert(0, Counter())
    functional.reset_net(net)
    assert [m.calls for m in lst] == [1, 2]


def test_reset_net_sees_a_child_replaced_by_none_and_back():
    net = nn.Sequential()
    net.add_module("a", Counter())
    functional.reset_net(net)
    a = net.a
    net.a = None
    functional.reset_net(net)
    assert a.calls == 1
    net.a = a
    functional.reset_net(net)
    assert a.calls == 2


def test_invalidate_reset_cache_drops_the_entry_and_ignores_unknown_nets():
    net = nn.Sequential(Counter())
    functional.reset_net(net)
    functional.invalidate_reset_cache(net)
    assert net not in reset_cache._RESET_MODULE_CACHE
    functional.invalidate_reset_cache(nn.Linear(1, 1))


def test_cache_entry_dies_with_the_network():
    net = nn.Sequential(Counter())
    functional.reset_net(net)
    before = len(reset_cache._RESET_MODULE_CACHE)
    del net
    gc.collect()
    assert len(reset_cache._RESET_MODULE_CACHE) == before - 1


def test_nets_with_custom_equality_are_not_cached():
    class Eq(Counter):
        def __eq__(self, other):
            return isinstance(other, Eq)

        def __hash__(self):
            return 1

    a, b = Eq(), Eq()
    functional.reset_net(a)
    functional.reset_net(b)
    assert (a.calls, b.calls) == (1, 1)
    assert len([k for k in reset_cache._RESET_MODULE_CACHE.keys() if k is a or k is b]) == 0
