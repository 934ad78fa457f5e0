"""Reference-parity fixes: module-path aliases, the functional forward of SimpleBaseNode
subclasses and of MPBN, and the state-shape error of the functional path."""

import copy
import importlib

import pytest
import snn_neurons
import torch
from snn_core import base

# The reference's module paths and the public names they hold (SpikingJelly 2.0.0).
_ALIASES = {
    "snn_neurons.lif_variants": [
        "GatedLIFNode",
        "KLIFNode",
        "ComplementaryLIFNode",
        "CUBALIFNode",
        "LIAFNode",
    ],
    "snn_neurons.adapt": ["AdaptBaseNode", "IzhikevichNode"],
    "snn_neurons.inter_layer_connection": [
        "ILCBaseNode",
        "ILCIFNode",
        "ILCLIFNode",
        "ILCCUBALIFNode",
    ],
    "snn_neurons.online_learning": ["OTTTLIFNode", "SLTTLIFNode"],
}


@pytest.mark.parametrize("path", sorted(_ALIASES))
def test_reference_module_paths_reexport_the_same_classes(path):
    module = importlib.import_module(path)
    assert sorted(module.__all__) == sorted(_ALIASES[path])
    for name in module.__all__:
        assert getattr(module, name) is getattr(snn_neurons, name)


class _SquareIF(snn_neurons.SimpleBaseNode):
    """Overrides the stateful charge only: ``V <- V + X^2``."""

    def charge(self, x, v):
        return v + x

    def neuronal_charge(self, x):
        self.v = self.v + x.square()


class _PlainIF(snn_neurons.SimpleBaseNode):
    def charge(self, x, v):
        return v + x


def test_simple_node_with_overridden_step_has_no_functional_forward():
    node = _SquareIF(v_threshold=2.0, v_reset=None, step_mode="m")
    assert not node.has_functional_forward("s")
    assert not node.has_functional_forward("m")
    assert _PlainIF(step_mode="m").has_functional_forward()
    with pytest.raises(NotImplementedError):
        node.functional_forward((torch.ones(3, 1),), (torch.zeros(1),))


def test_to_functional_forward_runs_the_overridden_simple_step_without_mutating_the_node():
    node = _SquareIF(v_threshold=2.0, v_reset=None, step_mode="m")
    node.v = torch.tensor([7.0])
    x_seq = torch.tensor([[1.0], [1.0], [0.5]])
    outputs, (v,) = base.to_functional_forward(node)((x_seq,), (torch.tensor([0.25]),))
    # by hand: V = 0.25 + 1 = 1.25; 2.25 >= 2 fires, soft reset -> 0.25; 0.25 + 0.25 = 0.5
    assert torch.equal(outputs[0], torch.tensor([[0.0], [1.0], [0.0]]))
    torch.testing.assert_close(v, torch.tensor([0.5]))
    assert torch.equal(node.v, torch.tensor([7.0]))


def test_to_functional_forward_keeps_an_overridden_non_spiking_single_step():
    class NonSpikingLIF(snn_neurons.SimpleLIFNode):
        def single_step_forward(self, x):
            self.neuronal_charge(x)
            return self.v

    node = NonSpikingLIF(tau=2.0, decay_input=True, step_mode="m")
    node.v = torch.tensor([4.0])
    x_seq = torch.tensor([[1.0], [2.0], [3.0]])
    outputs, (v,) = base.to_functional_forward(node)((x_seq,), (torch.tensor([0.0]),))
    # V[t] = V[t-1] + (X[t] - V[t-1]) / 2: 0.5, 1.25, 2.125 (no threshold, no reset)
    torch.testing.assert_close(outputs[0], torch.tensor([[0.5], [1.25], [2.125]]))
    torch.testing.assert_close(v, torch.tensor([2.125]))
    assert torch.equal(node.v, torch.tensor([4.0]))


def _mpbn_by_hand(x_seq, tau=2.0, eps=1e-5):
    """LIF charge (decay_input=False, hard reset to 0), batch-statistics BN with weight 1 and
    bias 0, threshold 1: the MPBN equations written out."""
    v = torch.zeros_like(x_seq[0])
    spikes = []
    for x in x_seq:
        h = v - v / tau + x
        mean = h.mean(0)
        var = h.var(0, unbiased=False)
        h = (h - mean) / torch.sqrt(var + eps)
        s = (h >= 1.0).to(h.dtype)
        spikes.append(s)
        v = h * (1.0 - s)
    return torch.stack(spikes), v


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_mpbn_functional_forward_is_pure_and_follows_the_equations(step_mode):
    torch.manual_seed(0)
    node = snn_neurons.MPBNLIFNode(tau=2.0, out_features=4, step_mode=step_mode).train()
    x = torch.randn(5, 6, 4) * 2
    before = {k: v.clone() for k, v in node.state_dict().items()}
    inputs = (x[0],) if step_mode == "s" else (x,)
    (out,), (v,) = node.functional_forward(inputs, (0.0,))
    for key, value in node.state_dict().items():
        assert torch.equal(value, before[key]), key
    expected_spikes, expected_v = _mpbn_by_hand(x[:1] if step_mode == "s" else x)
    expected_out = expected_spikes[0] if step_mode == "s" else expected_spikes
    assert torch.equal(out, expected_out)
    torch.testing.assert_close(v, expected_v)
    assert 0 < expected_spikes.sum() < expected_spikes.numel()
    # the stateful forward gives the same and does update the running statistics
    stateful = copy.deepcopy(node)
    torch.testing.assert_close(stateful(inputs[0]), out)
    assert int(stateful.vbn.num_batches_tracked) == (1 if step_mode == "s" else 5)


def test_folded_mpbn_functional_forward_threads_statistics_without_storing_them():
    torch.manual_seed(1)
    node = snn_neurons.MPBNLIFNode(tau=2.0, out_features=4, step_mode="m").train()
    node(torch.randn(4, 6, 4))
    node.re_parameterize_v_threshold(normalize_residual=True, running_stats=True)
    node.reset()
    stateful = copy.deepcopy(node)
    mu, sigma2, momentum = node.mu.clone(), node.sigma2.clone(), node.bn_momentum
    x = torch.randn(5, 6, 4) * 2
    (out,), (v,) = node.functional_forward((x,), (0.0,))
    assert torch.equal(node.mu, mu) and torch.equal(node.sigma2, sigma2)
    assert node.bn_momentum == momentum
    torch.testing.assert_close(out, stateful(x))
    torch.testing.assert_close(v, stateful.v)
    assert not torch.equal(stateful.mu, mu)  # the stateful path did move the statistics
    # the momentum decays once per step: 0.1 * 0.94^5
    assert stateful.bn_momentum == pytest.approx(0.1 * 0.94**5)


def test_functional_state_of_another_shape_is_a_clear_error():
    node = snn_neurons.LIFNode()
    with pytest.raises(ValueError, match=r"LIFNode\.v: the state has shape \(4,\).*\(2, 3\)"):
        node.functional_forward((torch.zeros(2, 3),), (torch.zeros(4),))
    clif = snn_neurons.ComplementaryLIFNode()
    clif(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"reset\(\)"):
        clif(torch.zeros(4, 3))
