"""I-LIF, the integer-valued LIF neuron (ILIFNode)."""

import pytest
import torch
from snn_core import functional, surrogate
from snn_neurons import BackendUnavailableError, ILIFNode, LIFNode


def _reference(x_seq, tau, v_th, d, window, detach_reset):
    """Float64 I-LIF loop: round(clip(H/V_th, 0, D)) forward, window straight-through back."""
    lo, hi = window
    v = torch.zeros_like(x_seq[0])
    counts, vs = [], []
    for x in x_seq:
        h = (1 - 1 / tau) * v + x
        r = h / v_th
        mask = ((r >= lo) & (r <= hi)).to(r.dtype)
        c = r.clamp(0, d).round().detach() + mask * (r - r.detach())
        v = h - (c.detach() if detach_reset else c) * v_th
        counts.append(c)
        vs.append(v)
    return torch.stack(counts), v, torch.stack(vs)


def test_ilif_is_a_lif_without_input_decay_and_with_soft_reset():
    node = ILIFNode()
    assert isinstance(node, LIFNode)
    assert node.tau == pytest.approx(4.0 / 3.0)
    assert node.decay_input is False and node.v_reset is None
    assert isinstance(node.surrogate_function, surrogate.MultiLevelSpikeCount)
    assert node.surrogate_function.max_spike_count == 4
    assert node.supported_backends == ("torch",)


def test_ilif_hand_computed_counts_and_leak():
    node = ILIFNode(tau=4.0 / 3.0, v_threshold=1.0)
    x = torch.tensor([[3.2, 0.4, 5.8]])
    assert node(x).tolist() == [[3.0, 0.0, 4.0]]
    torch.testing.assert_close(node.v, torch.tensor([[0.2, 0.4, 1.8]]))
    node(torch.zeros_like(x))  # V = 0.25 V - round(0.25 V) V_th
    torch.testing.assert_close(node.v, torch.tensor([[0.05, 0.1, 0.45]]))


def test_ilif_threshold_scales_counts_and_rounds_half_to_even():
    node = ILIFNode(v_threshold=0.5, surrogate_function=surrogate.MultiLevelSpikeCount(8))
    out = node(torch.tensor([1.25, 1.75, 0.24, 9.0]))  # H / V_th = 2.5, 3.5, 0.48, 18
    assert out.tolist() == [2.0, 4.0, 0.0, 8.0]
    torch.testing.assert_close(node.v, torch.tensor([0.25, -0.25, 0.24, 5.0]))


def test_ilif_gradient_is_the_window_over_threshold():
    x = torch.tensor([-0.5, 0.5, 4.5, 1.0], requires_grad=True)
    ILIFNode(v_threshold=1.0)(x).sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.0, 1.0, 0.0, 1.0]))
    x = torch.tensor([-0.1, 0.5, 1.9], requires_grad=True)
    sg = surrogate.MultiLevelSpikeCount(4, grad_window=(-0.5, 3.5))
    ILIFNode(v_threshold=0.5, surrogate_function=sg)(x).sum().backward()
    # H / V_th = -0.2, 1.0, 3.8: dC/dX = 1 / V_th inside the window
    torch.testing.assert_close(x.grad, torch.tensor([2.0, 2.0, 0.0]))


@pytest.mark.parametrize("detach_reset", [False, True])
@pytest.mark.parametrize("tau", [4.0 / 3.0, 2.5])
def test_ilif_matches_float64_autograd_reference(tau, detach_reset):
    torch.manual_seed(0)
    x = (2 * torch.randn(6, 3, 5, dtype=torch.float64)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    sg = surrogate.MultiLevelSpikeCount(3, grad_window=(-0.25, 3.25))
    node = ILIFNode(tau, 0.7, sg, detach_reset, step_mode="m", store_v_seq=True)
    out = node(x)
    ref, v_ref, v_seq_ref = _reference(x_ref, tau, 0.7, 3, (-0.25, 3.25), detach_reset)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(node.v_seq, v_seq_ref)
    w = torch.randn_like(out)
    ((out * w).sum() + node.v.sum()).backward()
    ((ref * w).sum() + v_ref.sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)


def test_ilif_multi_step_equals_single_step_loop_and_eval_equals_train():
    torch.manual_seed(1)
    x = (2 * torch.randn(5, 4, 3)).requires_grad_()
    single, multi = ILIFNode(v_threshold=0.5), ILIFNode(v_threshold=0.5, step_mode="m")
    out_s = torch.stack([single(x[t]) for t in range(5)])
    out_m = multi(x)
    torch.testing.assert_close(out_m, out_s)
    torch.testing.assert_close(multi.v, single.v)
    g_s = torch.autograd.grad(out_s.sum() + single.v.sum(), x)[0]
    g_m = torch.autograd.grad(out_m.sum() + multi.v.sum(), x)[0]
    torch.testing.assert_close(g_m, g_s)
    evaluated = ILIFNode(v_threshold=0.5, step_mode="m").eval()
    torch.testing.assert_close(evaluated(x.detach()), out_m.detach())
    assert out_m.max() > 1


def test_ilif_functional_steps_equal_module():
    torch.manual_seed(2)
    x = (2 * torch.randn(2, 3)).requires_grad_()
    v0 = torch.randn(2, 3)
    node = ILIFNode(tau=1.5, v_threshold=0.8)
    node.v = v0.clone()
    out = node(x)
    count, v = functional.ilif_step(x, v0.clone(), 1.5, 0.8, node.surrogate_function)
    torch.testing.assert_close(out, count)
    torch.testing.assert_close(node.v, v)
    g_node = torch.autograd.grad(out.sum() + node.v.sum(), x)[0]
    g_step = torch.autograd.grad(count.sum() + v.sum(), x)[0]
    torch.testing.assert_close(g_node, g_step)

    x_seq = 2 * torch.randn(4, 2, 3)
    multi = ILIFNode(tau=1.5, v_threshold=0.8, step_mode="m", store_v_seq=True)
    out_seq = multi(x_seq)
    counts, v_last, v_seq = functional.ilif_multi_step(
        x_seq, torch.zeros(2, 3), 1.5, 0.8, None, False, True
    )
    torch.testing.assert_close(out_seq, counts)
    torch.testing.assert_close(multi.v, v_last)
    torch.testing.assert_close(multi.v_seq, v_seq)


def test_ilif_rejects_other_spike_functions_and_backends():
    with pytest.raises(ValueError, match="MultiLevelSpikeCount"):
        ILIFNode(surrogate_function=surrogate.Sigmoid())
    with pytest.raises(ValueError, match="MultiLevelSpikeCount"):
        ILIFNode(surrogate_function=surrogate.MultiLevelSpikeCount(4, spiking=False))
    with pytest.raises(TypeError, match="MultiLevelSpikeCount"):
        functional.ilif_multi_step(torch.rand(2, 3), torch.zeros(3), 2.0, 1.0, surrogate.ATan())
    node = ILIFNode(step_mode="m")
    node.backend = "triton"
    with pytest.raises(BackendUnavailableError):
        node(torch.rand(2, 3))
