"""functional.reset_net / detach_net / set_step_mode / set_backend on nets of MemoryModules."""

import pytest
import torch
from snn_core import MemoryModule, MultiStepModule, StepModule, functional
from torch import nn


class Accumulator(MemoryModule):
    """v[t] = v[t-1] + x[t]; outputs v (a minimal stateful module)."""

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        self.register_memory("v", 0.0)
        self.step_mode = step_mode

    def single_step_forward(self, x):
        self.v = self.init_memory_like("v", x) + x
        return self.v


class MultiOnly(MultiStepModule, Accumulator):
    pass


class Backended(Accumulator):
    def __init__(self, supported=("torch", "fast")) -> None:
        super().__init__()
        self.backend = "torch"
        self._supported = supported

    @property
    def supported_backends(self):
        return self._supported


class KeepingContainer(nn.Module, StepModule):
    """Runs its single-step children itself; set_step_mode must leave them alone."""

    keeps_submodule_step_mode = True

    def __init__(self, child: nn.Module) -> None:
        super().__init__()
        self.child = child
        self.step_mode = "s"


class ResettableNotMemory(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x):
        return x

    def reset(self):
        self.calls += 1


def _net():
    return nn.Sequential(
        Accumulator(), nn.Linear(3, 3), nn.Sequential(Accumulator(), ResettableNotMemory())
    )


def test_reset_net_restores_every_state_and_calls_any_reset():
    net = _net()
    net(torch.randn(2, 3))
    net(torch.randn(2, 3))
    assert isinstance(net[0].v, torch.Tensor) and isinstance(net[2][0].v, torch.Tensor)
    functional.reset_net(net)
    assert net[0].v == 0.0 and net[2][0].v == 0.0
    assert net[2][1].calls == 1
    # after a reset a batch of another shape is accepted
    assert net(torch.ones(5, 3)).shape == (5, 3)


def test_detach_net_cuts_the_graph_between_steps():
    net = nn.Sequential(Accumulator(), Accumulator())
    x0 = torch.randn(2, 3, requires_grad=True)
    net(x0)
    assert net[1].v.grad_fn is not None
    functional.detach_net(net)
    assert net[0].v.grad_fn is None and net[1].v.grad_fn is None
    x1 = torch.randn(2, 3, requires_grad=True)
    net(x1).sum().backward()
    assert x0.grad is None  # the second step no longer reaches the first input
    torch.testing.assert_close(x1.grad, torch.full_like(x1, 1.0))
    # the values are kept
    torch.testing.assert_close(net[0].v, (x0 + x1).detach())


def test_set_step_mode_sets_every_step_module():
    net = _net()
    functional.set_step_mode(net, "m")
    assert net[0].step_mode == "m" and net[2][0].step_mode == "m"
    x_seq = torch.randn(4, 2, 3)
    torch.testing.assert_close(net[0](x_seq), x_seq.cumsum(0))
    functional.set_step_mode(net, "s")
    assert net[0].step_mode == "s" and net[2][0].step_mode == "s"


@pytest.mark.parametrize("bad", ["multi", "S", 1, None])
def test_set_step_mode_rejects_unknown_mode(bad):
    with pytest.raises(ValueError, match="step_mode can only be one of"):
        functional.set_step_mode(_net(), bad)


def test_set_step_mode_refuses_unsupported_mode_and_changes_nothing():
    net = nn.Sequential(Accumulator(), nn.Sequential(MultiOnly(step_mode="m")))
    with pytest.raises(ValueError, match=r"1\.0 \(MultiOnly, supports \('m',\)\)"):
        functional.set_step_mode(net, "s")
    assert net[0].step_mode == "s" and net[1][0].step_mode == "m"
    functional.set_step_mode(net, "m")
    assert net[0].step_mode == "m"


def test_set_step_mode_keeps_children_of_keeping_containers():
    inner = Accumulator()
    net = nn.Sequential(Accumulator(), KeepingContainer(nn.Sequential(inner)))
    functional.set_step_mode(net, "m")
    assert net[0].step_mode == "m"
    assert net[1].step_mode == "m"
    assert inner.step_mode == "s"


def test_set_step_mode_requires_a_module():
    with pytest.raises(TypeError, match="net must be a torch.nn.Module"):
        functional.set_step_mode([Accumulator()], "m")


def test_set_backend_sets_supported_and_warns_with_names_of_the_others():
    net = nn.Sequential(Backended(), nn.Sequential(Backended(supported=("torch",))))
    with pytest.warns(UserWarning, match=r"1\.0 \(Backended, supported_backends=\('torch',\)"):
        functional.set_backend(net, "fast")
    assert net[0].backend == "fast"
    assert net[1][0].backend == "torch"


def test_set_backend_without_refusals_does_not_warn(recwarn):
    net = nn.Sequential(Backended(), Accumulator(), nn.Linear(2, 2))
    functional.set_backend(net, "fast")
    assert net[0].backend == "fast"
    assert not [w for w in recwarn if issubclass(w.category, UserWarning)]


def test_set_backend_instance_filters_by_type():
    class Other(Backended):
        pass

    net = nn.Sequential(Backended(), Other())
    functional.set_backend(net, "fast", instance=Other)
    assert net[0].backend == "torch" and net[1].backend == "fast"
    functional.set_backend(net, "fast", instance=(Backended,))
    assert net[0].backend == "fast"


def test_set_backend_rejects_bad_arguments():
    with pytest.raises(TypeError, match="backend must be a str"):
        functional.set_backend(nn.Linear(1, 1), None)
    with pytest.raises(TypeError, match="instance must be None, a class"):
        functional.set_backend(nn.Linear(1, 1), "torch", instance=Backended())
