"""Every research neuron of the reference's list: runs forward and backward; multi-step mode
equals the single-step loop where both modes exist."""

import copy

import pytest
import snn_neurons
import torch
from snn_neurons import (
    CUBALIFNode,
    EIFNode,
    IzhikevichNode,
    KLIFNode,
    LIAFNode,
    MPBNLIFNode,
    QIFNode,
)

RESEARCH_NAMES = [
    "AdaptBaseNode",
    "IzhikevichNode",
    "QIFNode",
    "EIFNode",
    "GatedLIFNode",
    "KLIFNode",
    "CUBALIFNode",
    "LIAFNode",
    "MPBNBaseNode",
    "MPBNLIFNode",
    "DSRIFNode",
    "DSRLIFNode",
    "OTTTLIFNode",
    "SLTTLIFNode",
    "ILCBaseNode",
    "ILCIFNode",
    "ILCLIFNode",
    "ILCCUBALIFNode",
    "powerlaw_psd_gaussian",
    "NoisyBaseNode",
    "NoisyCUBALIFNode",
    "NoisyILCBaseNode",
    "NoisyILCCUBALIFNode",
    "NoisyNonSpikingBaseNode",
    "NoisyNonSpikingIFNode",
]


def test_all_research_names_are_exported():
    assert len(RESEARCH_NAMES) == 25
    for name in RESEARCH_NAMES:
        assert name in snn_neurons.__all__ and hasattr(snn_neurons, name), name


# concrete neurons built with their reference defaults (+ required args), input [T, N, 6]
CONCRETE = {
    "IzhikevichNode": lambda: IzhikevichNode(step_mode="m"),
    "QIFNode": lambda: QIFNode(step_mode="m"),
    "EIFNode": lambda: EIFNode(step_mode="m"),
    "GatedLIFNode": lambda: snn_neurons.GatedLIFNode(T=5),
    "KLIFNode": lambda: KLIFNode(step_mode="m"),
    "CUBALIFNode": lambda: CUBALIFNode(step_mode="m"),
    "LIAFNode": lambda: LIAFNode(torch.relu, True, step_mode="m"),
    "MPBNLIFNode": lambda: MPBNLIFNode(out_features=6, step_mode="m"),
    "DSRIFNode": lambda: snn_neurons.DSRIFNode(T=5, v_threshold=1.0),
    "DSRLIFNode": lambda: snn_neurons.DSRLIFNode(T=5),
    "ILCIFNode": lambda: snn_neurons.ILCIFNode(2, 3),
    "ILCLIFNode": lambda: snn_neurons.ILCLIFNode(2, 3),
    "ILCCUBALIFNode": lambda: snn_neurons.ILCCUBALIFNode(2, 3),
    "NoisyCUBALIFNode": lambda: snn_neurons.NoisyCUBALIFNode(6),
    "NoisyILCCUBALIFNode": lambda: snn_neurons.NoisyILCCUBALIFNode(2, 3),
    "NoisyNonSpikingIFNode": lambda: snn_neurons.NoisyNonSpikingIFNode(6),
}


@pytest.mark.parametrize("name", sorted(CONCRETE))
def test_runs_forward_and_backward_with_finite_gradients(name):
    torch.manual_seed(0)
    node = CONCRETE[name]()
    x = (2.0 * torch.rand(5, 4, 6)).requires_grad_()
    out = node(x)
    assert out.shape == x.shape and torch.isfinite(out).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, p in node.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("cls", [snn_neurons.OTTTLIFNode, snn_neurons.SLTTLIFNode])
def test_online_neurons_run_forward_and_backward(cls):
    node = cls()
    x = torch.rand(4, 6, requires_grad=True)
    for _ in range(3):
        out = node(x)
    spike = out[0] if isinstance(out, list) else out
    spike.sum().backward()
    assert torch.isfinite(x.grad).all()


# neurons with both step modes; factories take dtype-free kwargs
BOTH_MODES = {
    "IzhikevichNode": lambda: IzhikevichNode(a=0.2, b=0.1, v_reset=None),
    "QIFNode": lambda: QIFNode(),
    "EIFNode": lambda: EIFNode(delta_T=0.5, detach_reset=True),
    "KLIFNode": lambda: KLIFNode(scale_reset=True),
    "KLIFNode-unscaled-reset": lambda: KLIFNode(v_reset=None),
    "CUBALIFNode": lambda: CUBALIFNode(),
    "LIAFNode": lambda: LIAFNode(torch.tanh, False, v_reset=None),
    "MPBNLIFNode": lambda: MPBNLIFNode(out_features=5, learnable_vth=True),
}
STATES = ("v", "w", "c")


@pytest.mark.parametrize("name", sorted(BOTH_MODES))
def test_multi_step_equals_the_single_step_loop(name):
    torch.manual_seed(1)
    single = BOTH_MODES[name]().double()
    multi = copy.deepcopy(single)
    multi.step_mode = "m"
    multi.store_v_seq = True
    x = (1.5 * torch.rand(6, 4, 5, dtype=torch.float64)).requires_grad_()
    x_single = x.detach().clone().requires_grad_()
    out_multi = multi(x)
    v_seq, out_single = [], []
    for t in range(6):
        out_single.append(single(x_single[t]))
        v_seq.append(single.v)
    out_single = torch.stack(out_single)
    torch.testing.assert_close(out_multi, out_single)
    torch.testing.assert_close(multi.v_seq, torch.stack(v_seq))
    for state in STATES:
        if hasattr(single, state):
            torch.testing.assert_close(getattr(multi, state), getattr(single, state))
    g = torch.randn_like(out_multi)
    (out_multi * g).sum().backward()
    (out_single * g).sum().backward()
    torch.testing.assert_close(x.grad, x_single.grad)
    assert x.grad.abs().sum() > 0
    for (pname, p_multi), p_single in zip(multi.named_parameters(), single.parameters()):
        torch.testing.assert_close(p_multi.grad, p_single.grad, msg=pname)


@pytest.mark.parametrize(
    "make", [QIFNode, EIFNode, KLIFNode], ids=["QIFNode", "EIFNode", "KLIFNode"]
)
def test_elementwise_research_neurons_take_the_fused_path(make):
    from snn_neurons import fused

    assert fused.why_not_fused(make()) is None
    assert fused.why_not_fused(IzhikevichNode()) is not None  # keeps w besides v
