"""ANN-to-SNN conversion neurons: STBIFNode (SpikeZIP), ActivationAwareIFNode,
HalfThresholdIFNode."""

import copy
import math

import pytest
import torch
from snn_core import functional, surrogate
from snn_neurons import ActivationAwareIFNode, HalfThresholdIFNode, STBIFNode, fused


@pytest.fixture(autouse=True)
def _eager_fused_path(monkeypatch):
    # the fused path runs its traced steps eagerly (compiling them is tested elsewhere)
    monkeypatch.setattr(fused.settings, "compile", False)


# ---------------------------------------------------------------- STBIF


@pytest.mark.parametrize(
    "total,released",
    [(0.6, 2), (-0.6, -2), (0.3, 1), (2.0, 3), (-3.0, -4), (0.1, 0)],
)
def test_stbif_releases_the_rounded_clipped_quantized_input(total, released):
    # s = 0.25, 8 symmetric levels: A in [-4, 3]; the outputs sum to s clip(round(X / s))
    node = STBIFNode(0.25, level=8, sym=True, step_mode="m")
    x = torch.zeros(8, 1)
    x[0] = total
    out = node(x)
    assert set(out.unique().tolist()) <= {-0.25, 0.0, 0.25}
    assert out.sum().item() == pytest.approx(0.25 * released)
    assert node.accumulated.item() == pytest.approx(0.25 * released)
    assert node.acc_q.item() == released
    # one event per step, all first: the residual q ends in [0, 1) unless clipped
    assert (out[: abs(released), 0] != 0).all() and (out[abs(released) :] == 0).all()


def test_stbif_hand_computed_steps_and_default_bounds():
    node = STBIFNode(torch.tensor(0.5), level=4)  # unsigned: A in [0, 3]
    assert node.pos_max.item() == 3 and node.neg_min.item() == 0
    sym = STBIFNode(0.5, level=4, sym=True)
    assert sym.pos_max.item() == 1 and sym.neg_min.item() == -2
    # q: 0.5 + 0.6 = 1.1 -> fire, 0.1; - 0.4 = -0.3 -> fire -1 (A = 1 > 0), 0.7
    assert node(torch.tensor([0.3])).item() == 0.5
    assert node(torch.tensor([-0.2])).item() == -0.5
    torch.testing.assert_close(node.q, torch.tensor([0.7]))
    assert node.acc_q.item() == 0 and node.cur_output.item() == -1
    # at A = neg_min a negative residual cannot fire: q = 0.7 - 1.0 = -0.3 stays
    assert node(torch.tensor([-0.5])).item() == 0.0
    torch.testing.assert_close(node.q, torch.tensor([-0.3]))
    node.reset()
    assert node.q is None and node.acc_q is None


def test_stbif_multi_step_equals_single_step_and_functional():
    torch.manual_seed(0)
    x = 0.3 * torch.randn(6, 2, 3)
    single, multi = STBIFNode(0.2, level=6, sym=True), STBIFNode(0.2, level=6, sym=True)
    multi.step_mode = "m"
    out_s = torch.stack([single(x[t]) for t in range(6)])
    torch.testing.assert_close(multi(x), out_s)
    for name in ("q", "acc_q", "cur_output"):
        torch.testing.assert_close(getattr(multi, name), getattr(single, name))
    q, a = torch.full((2, 3), 0.5), torch.zeros(2, 3)
    for t in range(6):
        out, q, a, c = functional.stbif_step(
            x[t], q, a, multi.q_threshold, multi.pos_max, multi.neg_min
        )
        torch.testing.assert_close(out, out_s[t])
    torch.testing.assert_close(q, multi.q)


def test_stbif_from_quantizer_and_errors():
    quantizer = torch.nn.Module()
    quantizer.s, quantizer.sym = torch.tensor(0.125), True
    quantizer.pos_max, quantizer.neg_min = torch.tensor(7.0), torch.tensor(-8.0)
    node = STBIFNode.from_quantizer(quantizer)
    assert node.level == 16 and node.sym and node.q_threshold.item() == 0.125
    with pytest.raises(RuntimeError, match="before the first forward"):
        node.accumulated
    with pytest.raises(RuntimeError, match="autograd"):
        node(torch.rand(2, requires_grad=True))
    with pytest.raises(ValueError, match="level"):
        STBIFNode(0.1, level=1)
    node(torch.rand(2))
    with pytest.raises(ValueError, match="reset"):
        node(torch.rand(3))


# ---------------------------------------------------------------- activation-aware IF


def _aa(step_mode="s", v_reset=0.0, **kw):
    return ActivationAwareIFNode(
        v_threshold=torch.tensor([0.5, 1.0, 2.0]),
        v_offset=torch.tensor([0.25, 0.0, -0.5]),
        channel_dim=1,
        v_reset=v_reset,
        surrogate_function=surrogate.Sigmoid(4.0),
        step_mode=step_mode,
        **kw,
    )


def test_activation_aware_if_uses_per_channel_threshold_and_offset():
    node = _aa()
    x = torch.tensor([[0.3, 0.9, 2.4], [0.2, 1.0, 2.5]])  # channel c fires at H >= V_th - O
    assert node(x).tolist() == [[1, 0, 0], [0, 1, 1]]
    torch.testing.assert_close(node.v, torch.tensor([[0.0, 0.9, 2.4], [0.2, 0.0, 0.0]]))
    soft = _aa(v_reset=None)
    soft(x)
    torch.testing.assert_close(soft.v, torch.tensor([[-0.2, 0.9, 2.4], [0.2, 0.0, 0.5]]))


def _aa_reference(x_seq, thr, off, v_reset):
    v = torch.full_like(x_seq[0], 0.0 if v_reset is None else v_reset)
    spikes = []
    for x in x_seq:
        h = v + x
        z = h + off - thr
        g = torch.sigmoid(4.0 * z)
        s = (z >= 0).to(z.dtype) + g - g.detach()
        v = h - s * thr if v_reset is None else s * v_reset + (1 - s) * h
        spikes.append(s)
    return torch.stack(spikes), v


@pytest.mark.parametrize("v_reset", [0.0, None])
def test_activation_aware_if_matches_float64_autograd_and_inference_path(v_reset):
    torch.manual_seed(0)
    x = (1.5 * torch.rand(5, 2, 3, 4, dtype=torch.float64)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    node = _aa("m", v_reset, store_v_seq=True).double()
    out = node(x)
    thr = torch.tensor([0.5, 1.0, 2.0], dtype=torch.float64).view(3, 1)
    off = torch.tensor([0.25, 0.0, -0.5], dtype=torch.float64).view(3, 1)
    ref, v_ref = _aa_reference(x_ref, thr, off, v_reset)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(node.v, v_ref)
    ((out * x.detach()).sum() + node.v.sum()).backward()
    ((ref * x.detach()).sum() + v_ref.sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
    # without autograd the inference transition runs and gives the same result
    inference = _aa("m", v_reset, store_v_seq=True).double()
    with torch.no_grad():
        torch.testing.assert_close(inference(x), out.detach())
    torch.testing.assert_close(inference.v_seq, node.v_seq.detach())
    single = _aa("s", v_reset).double()
    torch.testing.assert_close(torch.stack([single(t) for t in x.detach()]), out.detach())


def test_activation_aware_if_functional_step_equals_module():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    v0 = torch.randn(2, 3, 4, 4)
    node = _aa()
    node.v = v0.clone()
    thr = node._broadcast_parameter(node.v_threshold, x, "v_threshold")
    off = node._broadcast_parameter(node.v_offset, x, "v_offset")
    s, v = functional.activation_aware_if_step(x, v0, thr, off, 0.0, surrogate.Sigmoid(4.0))
    out = node(x)
    torch.testing.assert_close(out, s)
    torch.testing.assert_close(node.v, v)
    g_node = torch.autograd.grad(out.sum() + node.v.sum(), x)[0]
    g_step = torch.autograd.grad(s.sum() + v.sum(), x)[0]
    torch.testing.assert_close(g_node, g_step)


def test_activation_aware_if_checks_arguments():
    with pytest.raises(ValueError, match="finite positive"):
        ActivationAwareIFNode(v_threshold=torch.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="scalar or a 1-D"):
        ActivationAwareIFNode(v_offset=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="v_reset"):
        ActivationAwareIFNode(v_reset=0)
    with pytest.raises(ValueError, match="3 values but the input"):
        _aa()(torch.rand(2, 4))
    with pytest.raises(ValueError, match="channel_dim=5 is out of range"):
        ActivationAwareIFNode(v_threshold=torch.ones(2), channel_dim=5)(torch.rand(2, 2))
    node = _aa("m", store_v_seq=True)
    node(torch.rand(2, 1, 3))
    node.reset()
    assert node.v == 0.0 and node.v_seq is None


# ---------------------------------------------------------------- half-threshold IF


@pytest.mark.parametrize("rate", [0.1, 0.3, 0.45, 0.7, 0.93])
def test_half_threshold_if_rounds_the_spike_count_to_nearest(rate):
    # a constant input a <= V_th over T steps: floor((T a + V_th / 2) / V_th) spikes
    v_th, T = 0.8, 20
    node = HalfThresholdIFNode(v_threshold=v_th, step_mode="m").double()
    out = node(torch.full((T, 1), rate * v_th, dtype=torch.float64))
    assert out.sum().item() == math.floor(T * rate + 0.5)
    node.reset()
    assert node.v == pytest.approx(0.4)


def test_half_threshold_if_fused_path_equals_single_step_loop():
    node = HalfThresholdIFNode(v_threshold=torch.tensor(0.9), step_mode="m", store_v_seq=True)
    assert fused.why_not_fused(node) is None
    torch.manual_seed(0)
    x = (0.8 * torch.rand(6, 3, 5)).requires_grad_()
    single = copy.deepcopy(node)
    single.step_mode = "s"
    out = node(x)
    out_s = torch.stack([single(x[t]) for t in range(6)])
    torch.testing.assert_close(out, out_s)
    torch.testing.assert_close(node.v_seq[-1], single.v)
    w = torch.randn_like(out)
    g = torch.autograd.grad((out * w).sum() + node.v.sum(), x)[0]
    g_s = torch.autograd.grad((out_s * w).sum() + single.v.sum(), x)[0]
    torch.testing.assert_close(g, g_s)


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_half_threshold_if_restarts_a_new_input_shape_at_half_threshold(step_mode):
    """SpikingJelly 2.0.0's rule for this neuron (other neurons ask for a reset): a state of
    another shape is replaced by V_th / 2, in the stateful and the functional forward."""
    node = HalfThresholdIFNode(v_threshold=0.8, step_mode=step_mode).double()
    lead = (2,) if step_mode == "m" else ()
    node(torch.full((*lead, 1), 0.3, dtype=torch.float64))
    x = torch.full((*lead, 2, 3), 0.3, dtype=torch.float64)
    out = node(x)
    # fresh start at 0.4: 0.7, then 1.0 -> spike, 0.2 (multi-step)
    expected_v = torch.full((2, 3), 0.2 if step_mode == "m" else 0.7, dtype=torch.float64)
    torch.testing.assert_close(node.v, expected_v)
    assert out.sum().item() == (6 if step_mode == "m" else 0)
    (spikes,), states = node.functional_forward((x,), (torch.zeros(4),))
    torch.testing.assert_close(states[0], expected_v)
    torch.testing.assert_close(spikes, out)


def test_half_threshold_if_checks_threshold():
    assert HalfThresholdIFNode(v_threshold=2).v == 1.0
    with pytest.raises(ValueError, match="scalar finite positive"):
        HalfThresholdIFNode(v_threshold=-1.0)
    with pytest.raises(ValueError, match="one-element"):
        HalfThresholdIFNode(v_threshold=torch.ones(2))
    with pytest.raises(TypeError, match="real number"):
        HalfThresholdIFNode(v_threshold="1")


@pytest.mark.kernels
@pytest.mark.parametrize("backend", ["triton", "cupy"])
def test_half_threshold_if_generated_kernels_equal_torch(backend):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    reference = HalfThresholdIFNode(v_threshold=0.7, step_mode="m", store_v_seq=True).to(device)
    if backend not in reference.supported_backends:
        pytest.skip(f"backend {backend!r} cannot run here")
    node = copy.deepcopy(reference)
    node.backend = backend
    torch.manual_seed(0)
    x = (0.9 * torch.rand(6, 3, 5, device=device)).requires_grad_()
    x_ref = x.detach().clone().requires_grad_()
    out, out_ref = node(x), reference(x_ref)
    torch.testing.assert_close(out, out_ref)
    torch.testing.assert_close(node.v_seq, reference.v_seq)
    g = torch.randn_like(out)
    ((out * g).sum() + node.v.sum()).backward()
    ((out_ref * g).sum() + reference.v.sum()).backward()
    torch.testing.assert_close(x.grad, x_ref.grad)
