"""PSN, MaskedPSN and SlidingPSN against float64 formulas written out here (Fang et al. 2023)."""

from __future__ import annotations

import math

import pytest
import torch
from snn_core.surrogate import ATan
from snn_neurons import PSN, MaskedPSN, SlidingPSN

ALPHA = 2.0  # ATan's default alpha


def _spike_ref(h: torch.Tensor) -> torch.Tensor:
    """Θ(h) forward (Θ(0) = 1); backward d/dh of atan(π/2·α·h)/π + 1/2, written out here."""
    g = torch.atan(math.pi / 2 * ALPHA * h) / math.pi + 0.5
    return (h >= 0).to(h.dtype) + (g - g.detach())


def _psn_ref(weight: torch.Tensor, bias: torch.Tensor, x_seq: torch.Tensor) -> torch.Tensor:
    """S[t] = Θ(sum_j W[t, j] X[j] + bias[t]) computed step by step."""
    T = x_seq.shape[0]
    out = []
    for t in range(T):
        h = sum(weight[t, j] * x_seq[j] for j in range(T)) + bias.reshape(-1)[t]
        out.append(_spike_ref(h))
    return torch.stack(out)


def _sliding_ref(weight: torch.Tensor, bias: torch.Tensor, x_seq: torch.Tensor) -> torch.Tensor:
    """S[t] = Θ(sum_i W_i X[t-k+1+i] + bias), X[t] = 0 for t < 0."""
    k = weight.shape[0]
    out = []
    for t in range(x_seq.shape[0]):
        h = bias + sum(weight[i] * x_seq[t - k + 1 + i] for i in range(k) if t - k + 1 + i >= 0)
        out.append(_spike_ref(h))
    return torch.stack(out)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64)


def _grads(out: torch.Tensor, tensors: list[torch.Tensor], seed: int = 1) -> list[torch.Tensor]:
    r = _rand(*out.shape, seed=seed)
    return list(torch.autograd.grad((out * r).sum(), tensors))


# ------------------------------------------------------------------------------------ PSN
def test_psn_parameters_and_init() -> None:
    T = 5
    psn = PSN(T)
    assert psn.weight.shape == (T, T) and psn.bias.shape == (T, 1)
    assert torch.equal(psn.bias.detach(), torch.full((T, 1), -1.0))
    # Kaiming uniform with a = sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = T
    assert psn.weight.abs().max() <= 1 / math.sqrt(T)
    assert psn.weight.std() > 0.1 / math.sqrt(T)
    assert isinstance(psn.surrogate_function, ATan)
    assert psn.step_mode == "m"


def test_psn_forward_matches_float64_formula() -> None:
    T = 4
    psn = PSN(T).double()
    with torch.no_grad():
        psn.bias.copy_(_rand(T, 1, seed=3) * 0.5)
    x_seq = _rand(T, 3, 2, seed=2)
    out = psn(x_seq)
    assert out.shape == x_seq.shape
    ref = _psn_ref(psn.weight.detach(), psn.bias.detach(), x_seq)
    assert torch.equal(out, ref)
    assert 0 < out.sum() < out.numel()


def test_psn_float32_matches_float64_formula() -> None:
    T = 6
    psn = PSN(T)
    x_seq = _rand(T, 8, seed=4).float() + 1.0
    ref = _psn_ref(psn.weight.double().detach(), psn.bias.double().detach(), x_seq.double())
    assert torch.equal(psn(x_seq).double(), ref)


def test_psn_gradients_match_explicit_surrogate() -> None:
    T = 4
    psn = PSN(T).double()
    x_seq = _rand(T, 5, seed=5).requires_grad_(True)
    got = _grads(psn(x_seq), [psn.weight, psn.bias, x_seq])
    w = psn.weight.detach().clone().requires_grad_(True)
    b = psn.bias.detach().clone().requires_grad_(True)
    x = x_seq.detach().clone().requires_grad_(True)
    want = _grads(_psn_ref(w, b, x), [w, b, x])
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r)
        assert g.abs().sum() > 0


def test_psn_state_dict_keys_and_strict_load() -> None:
    T = 3
    sd = {"weight": _rand(T, T).float(), "bias": _rand(T, 1).float()}
    psn = PSN(T)
    assert set(psn.state_dict()) == {"weight", "bias"}
    psn.load_state_dict(sd, strict=True)
    assert torch.equal(psn.weight.detach(), sd["weight"])


def test_psn_errors() -> None:
    psn = PSN(4)
    with pytest.raises(ValueError, match="T=4"):
        psn(torch.zeros(3, 2))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        psn(torch.zeros(4))
    with pytest.raises(ValueError, match="step_mode"):
        psn.step_mode = "s"
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError, match="T must be an int >= 1"):
            PSN(bad)
    with pytest.raises(TypeError, match="surrogate_function"):
        PSN(4, surrogate_function=torch.sigmoid)


# ------------------------------------------------------------------------------ MaskedPSN
def test_masked_psn_masks_hand_checked() -> None:
    m = MaskedPSN(k=2, T=4)
    mask0 = torch.tensor(
        [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], dtype=torch.float32
    )
    assert torch.equal(m.mask0, mask0)
    assert torch.equal(m.mask1, torch.ones(4, 4))
    # k >= T: the whole lower triangle
    assert torch.equal(MaskedPSN(k=5, T=3).mask0, torch.tril(torch.ones(3, 3)))


def test_masked_psn_masked_weight_lambda_blending() -> None:
    m = MaskedPSN(k=2, T=3)
    w = m.weight.detach()
    with torch.no_grad():
        assert torch.equal(m.masked_weight(), w)  # lambda_init = 0
        m.lambda_ = 0.25
        mw = m.masked_weight()
        for i in range(3):
            for j in range(3):
                scale = 1.0 if j <= i <= j + 1 else 0.75
                assert mw[i, j] == pytest.approx(scale * w[i, j].item(), rel=1e-6)
        m.lambda_ = 1.0
        v = w.tolist()
        expected = torch.tensor([[v[0][0], 0, 0], [v[1][0], v[1][1], 0], [0, v[2][1], v[2][2]]])
        assert torch.equal(m.masked_weight(), expected)
    lam = torch.tensor(0.5)
    gen = MaskedPSN.gen_masked_weight(lam, m.mask0, m.mask1, w)
    torch.testing.assert_close(gen, w * (0.5 * m.mask0 + 0.5))


def test_masked_psn_lambda_property() -> None:
    m = MaskedPSN(k=2, T=3, lambda_init=0.3)
    buf = m._lambda_
    assert m.lambda_.item() == pytest.approx(0.3)
    m.lambda_ = 0.7
    assert m._lambda_ is buf and buf.item() == pytest.approx(0.7)
    assert m.state_dict()["_lambda_"].item() == pytest.approx(0.7)
    for bad in (-0.1, 1.5, "a", float("nan")):
        with pytest.raises(ValueError, match="lambda_"):
            m.lambda_ = bad
    with pytest.raises(ValueError, match="lambda_"):
        MaskedPSN(k=2, T=3, lambda_init=2.0)


def test_masked_psn_multi_step_matches_formula_and_gradients() -> None:
    T, k = 5, 2
    m = MaskedPSN(k, T, lambda_init=0.5, step_mode="m").double()
    x_seq = _rand(T, 2, 3, seed=7).requires_grad_(True)
    out = m(x_seq)
    band = torch.tensor([[1.0 if j <= i <= j + k - 1 else 0.5 for j in range(T)] for i in range(T)])
    w = m.weight.detach().clone().requires_grad_(True)
    b = m.bias.detach().clone().requires_grad_(True)
    x = x_seq.detach().clone().requires_grad_(True)
    ref = _psn_ref(w * band.double(), b, x)
    assert torch.equal(out, ref)
    got = _grads(out, [m.weight, m.bias, x_seq])
    want = _grads(ref, [w, b, x])
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r)


def test_masked_psn_single_step_loop_equals_multi_step() -> None:
    T, k = 5, 3
    m = MaskedPSN(k, T, lambda_init=1.0).double()
    x_seq = _rand(T, 4, seed=8).requires_grad_(True)
    out_s = torch.stack([m(x_seq[t]) for t in range(T)])
    g_s = _grads(out_s, [m.weight, m.bias, x_seq])
    assert m.time_step == T and len(m.queue) == k
    with pytest.raises(OverflowError, match="T=5"):
        m(x_seq[0])
    m.reset()
    assert m.time_step == 0 and m.queue == []
    m.step_mode = "m"
    out_m = m(x_seq)
    g_m = _grads(out_m, [m.weight, m.bias, x_seq])
    assert torch.equal(out_s, out_m)
    for a, b in zip(g_s, g_m, strict=True):
        torch.testing.assert_close(a, b)
    # the upper triangle / out-of-band weights get no gradient once fully masked
    assert torch.all(g_m[0][~m.mask0.bool()] == 0)


def test_masked_psn_single_step_needs_full_mask() -> None:
    m = MaskedPSN(k=2, T=3, lambda_init=0.5)
    with pytest.raises(ValueError, match="lambda_ = 1"):
        m(torch.zeros(2))


def test_masked_psn_state_dict_keys_and_strict_load() -> None:
    T, k = 4, 2
    m = MaskedPSN(k, T)
    shapes = {key: tuple(v.shape) for key, v in m.state_dict().items()}
    assert shapes == {
        "weight": (T, T),
        "bias": (T, 1),
        "_lambda_": (),
        "mask0": (T, T),
        "mask1": (T, T),
    }
    src = MaskedPSN(k, T, lambda_init=1.0)
    m.load_state_dict(src.state_dict(), strict=True)
    assert m.lambda_.item() == 1.0 and torch.equal(m.weight, src.weight)


def test_masked_psn_errors() -> None:
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        MaskedPSN(k=0, T=4)
    with pytest.raises(ValueError, match="T must be an int >= 1"):
        MaskedPSN(k=2, T=0)
    with pytest.raises(ValueError, match="step_mode"):
        MaskedPSN(k=2, T=4, step_mode="x")
    m = MaskedPSN(k=2, T=4, step_mode="m")
    with pytest.raises(ValueError, match="T=4"):
        m(torch.zeros(5, 2))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        m(torch.zeros(4))
    s = MaskedPSN(k=2, T=4, lambda_init=1.0)
    s(torch.zeros(3))
    with pytest.raises(ValueError, match="reset"):
        s(torch.zeros(2))


# ----------------------------------------------------------------------------- SlidingPSN
def test_sliding_psn_init() -> None:
    s = SlidingPSN(k=4)
    assert torch.equal(s.weight.detach(), torch.tensor([0.125, 0.25, 0.5, 1.0]))
    assert s.bias.shape == () and s.bias.item() == -1.0
    assert s.backend == "gemm" and s.supported_backends == ("gemm", "conv")
    r = SlidingPSN(k=6, exp_init=False)
    assert r.weight.shape == (6,) and r.weight.abs().max() <= 1 / math.sqrt(6)
    assert len(set(r.weight.tolist())) == 6


def test_sliding_psn_gen_gemm_weight_hand_checked() -> None:
    s = SlidingPSN(k=2)
    with torch.no_grad():
        s.weight.copy_(torch.tensor([2.0, 3.0]))
    a, b = 2.0, 3.0
    expected = torch.tensor([[b, 0, 0, 0], [a, b, 0, 0], [0, a, b, 0], [0, 0, a, b]])
    assert torch.equal(s.gen_gemm_weight(4), expected)
    s3 = SlidingPSN(k=3)
    with torch.no_grad():
        s3.weight.copy_(torch.tensor([5.0, 6.0, 7.0]))
    assert torch.equal(s3.gen_gemm_weight(2), torch.tensor([[7.0, 0.0], [6.0, 7.0]]))
    with pytest.raises(ValueError, match="T must be an int >= 1"):
        s.gen_gemm_weight(0)


@pytest.mark.parametrize(("k", "T"), [(3, 6), (4, 2), (1, 3)])
def test_sliding_psn_backends_and_single_step_agree(k: int, T: int) -> None:
    s = SlidingPSN(k, exp_init=False).double()
    with torch.no_grad():
        s.bias.fill_(-0.2)
    x_seq = _rand(T, 3, 2, seed=k + T).requires_grad_(True)
    w = s.weight.detach().clone().requires_grad_(True)
    b = s.bias.detach().clone().requires_grad_(True)
    x = x_seq.detach().clone().requires_grad_(True)
    ref = _sliding_ref(w, b, x)
    want = _grads(ref, [w, b, x])
    for mode, backend in (("m", "gemm"), ("m", "conv"), ("s", "gemm")):
        s.reset()
        s.step_mode, s.backend = mode, backend
        out = s(x_seq) if mode == "m" else torch.stack([s(x_seq[t]) for t in range(T)])
        assert torch.equal(out, ref), (mode, backend)
        got = _grads(out, [s.weight, s.bias, x_seq])
        for g, r in zip(got, want, strict=True):
            torch.testing.assert_close(g, r)


def test_sliding_psn_single_step_queue_and_detach() -> None:
    s = SlidingPSN(k=2)
    x = torch.ones(3, requires_grad=True)
    for _ in range(4):
        s(x * 1.0)
    assert len(s.queue) == 2
    s.detach()
    assert all(not q.requires_grad for q in s.queue)
    with pytest.raises(ValueError, match="reset"):
        s(torch.ones(4))
    s.reset()
    assert s.queue == []


def test_sliding_psn_state_dict_keys_and_strict_load() -> None:
    s = SlidingPSN(k=3)
    shapes = {key: tuple(v.shape) for key, v in s.state_dict().items()}
    assert shapes == {"weight": (3,), "bias": ()}
    sd = {"weight": torch.tensor([1.0, 2.0, 3.0]), "bias": torch.tensor(-0.5)}
    s.load_state_dict(sd, strict=True)
    assert s.bias.item() == -0.5


def test_sliding_psn_errors() -> None:
    with pytest.raises(ValueError, match="backend must be one of"):
        SlidingPSN(k=2, backend="cupy")
    s = SlidingPSN(k=2, step_mode="m")
    with pytest.raises(ValueError, match="backend must be one of"):
        s.backend = "torch"
    with pytest.raises(ValueError, match="k must be an int >= 1"):
        SlidingPSN(k=0)
    with pytest.raises(ValueError, match="step_mode"):
        SlidingPSN(k=2, step_mode="multi")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        s(torch.zeros(5))
    with pytest.raises(TypeError, match="exp_init"):
        SlidingPSN(k=2, exp_init=1)
