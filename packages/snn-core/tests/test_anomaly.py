"""snn_core.anomaly: the opt-in check that stops at the first non-finite input or state."""

import pytest
import torch
from snn_core import MemoryModule, anomaly
from torch import nn


class Integrator(MemoryModule):
    """v[t] = v[t-1] + x[t]; outputs v > 1 (a minimal neuron-like module)."""

    def __init__(self, step_mode: str = "s") -> None:
        super().__init__()
        self.register_memory("v", 0.0)
        self.step_mode = step_mode

    def forward(self, *args):
        if anomaly.enabled:
            return anomaly.checked_forward(self, super().forward, *args)
        return super().forward(*args)

    def single_step_forward(self, x):
        self.v = self.init_memory_like("v", x) + x
        return (self.v > 1).to(x)

    def locate_non_finite_step(self, x_seq, v_init):
        v = torch.zeros_like(x_seq[0]) if not isinstance(v_init, torch.Tensor) else v_init
        for t in range(x_seq.shape[0]):
            v = v + x_seq[t]
            if not torch.isfinite(v).all():
                return t
        return None


def test_off_by_default_and_non_finite_state_goes_unnoticed():
    assert anomaly.is_anomaly_enabled() is False
    m = Integrator()
    m(torch.tensor([float("nan")]))
    assert torch.isnan(m.v).all()


def test_context_manager_restores_the_previous_mode_and_nests():
    with anomaly.detect_anomaly():
        assert anomaly.enabled
        with anomaly.detect_anomaly(mode=False):
            assert not anomaly.enabled
        assert anomaly.enabled
    assert not anomaly.enabled


def test_global_switch_and_decorator():
    anomaly.set_detect_anomaly(True)
    try:
        assert anomaly.is_anomaly_enabled()
    finally:
        anomaly.set_detect_anomaly(False)

    @anomaly.detect_anomaly()
    def run():
        return anomaly.enabled

    assert run() is True and anomaly.enabled is False


def test_bad_arguments_are_type_errors():
    with pytest.raises(TypeError, match="mode must be a bool"):
        anomaly.set_detect_anomaly(1)
    with pytest.raises(TypeError, match="net must be a torch.nn.Module"):
        anomaly.detect_anomaly(net="model")


def test_single_step_input_names_the_module_and_counts_steps_since_reset():
    net = nn.Sequential(nn.Identity(), Integrator())
    with anomaly.detect_anomaly(net):
        for _ in range(3):
            net(torch.ones(2))
        with pytest.raises(anomaly.NonFiniteStateError) as exc:
            net(torch.tensor([1.0, float("inf")]))
    msg = str(exc.value)
    assert "Integrator '1'" in msg and "at time step 3" in msg and "1 inf of 2 values" in msg
    assert net[1].v.tolist() == [3.0, 3.0]  # raised before the step: state not poisoned
    net[1].reset()
    with anomaly.detect_anomaly(net), pytest.raises(anomaly.NonFiniteStateError, match="step 0"):
        net(torch.tensor([float("nan")]))


def test_multi_step_input_names_the_first_bad_step():
    x = torch.ones(6, 3)
    x[4, 1] = float("nan")
    x[5, 0] = float("inf")
    with anomaly.detect_anomaly(), pytest.raises(anomaly.NonFiniteStateError) as exc:
        Integrator("m")(x)
    assert "x_seq[4] holds 1 NaN of 3 values at time step 4" in str(exc.value)


def test_state_overflow_from_finite_input_is_located_by_replay():
    # v = t * 2e38 overflows float32 (max 3.4e38) at the second step (index 1).
    x = torch.full((5, 2), 2e38)
    with anomaly.detect_anomaly(), pytest.raises(anomaly.NonFiniteStateError) as exc:
        Integrator("m")(x)
    msg = str(exc.value)
    assert "state 'v' became non-finite" in msg and "although its input was finite" in msg
    assert "at time step 1 (of 5 in this call)" in msg


def test_finite_run_is_unchanged_by_anomaly_mode():
    x = torch.rand(4, 3)
    plain = Integrator("m")(x)
    with anomaly.detect_anomaly():
        checked = Integrator("m")(x)
    assert torch.equal(plain, checked)
