"""functional losses against closed forms computed pair by pair / step by step."""

import math

import pytest
import torch
import torch.nn.functional as F
from snn_core import functional


def _pairwise(x, y, f):
    return torch.tensor(
        [[f(x[i].tolist(), y[j].tolist()) for j in range(len(y))] for i in range(len(x))],
        dtype=torch.float64,
    )


def _dot(a, b):
    return sum(p * q for p, q in zip(a, b))


@pytest.mark.parametrize(
    "kernel, args, closed_form",
    [
        ("linear", (), lambda a, b: _dot(a, b)),
        ("polynomial", (3,), lambda a, b: _dot(a, b) ** 3),
        ("sigmoid", (0.7,), lambda a, b: 1.0 / (1.0 + math.exp(-0.7 * _dot(a, b)))),
        (
            "gaussian",
            (1.5,),
            lambda a, b: math.exp(-sum((p - q) ** 2 for p, q in zip(a, b)) / (2 * 1.5**2)),
        ),
    ],
)
def test_kernel_dot_product_closed_forms(kernel, args, closed_form):
    torch.manual_seed(0)
    x = torch.randn(3, 4, dtype=torch.float64)
    y = torch.randn(5, 4, dtype=torch.float64)
    ret = functional.kernel_dot_product(x, y, kernel, *args)
    assert ret.shape == (3, 5)
    torch.testing.assert_close(ret, _pairwise(x, y, closed_form))


def test_gaussian_kernel_of_a_vector_with_itself_is_one():
    x = torch.tensor([[1e3, -2e3, 5.0]], dtype=torch.float64)
    torch.testing.assert_close(
        functional.kernel_dot_product(x, x, "gaussian", 0.1), x.new_ones(1, 1)
    )


def test_kernel_dot_product_rejects_bad_arguments():
    x = torch.randn(2, 3)
    with pytest.raises(ValueError, match="kernel must be one of"):
        functional.kernel_dot_product(x, x, "rbf", 1.0)
    with pytest.raises(TypeError, match=r"kernel 'gaussian' takes one extra argument \(sigma\)"):
        functional.kernel_dot_product(x, x, "gaussian")
    with pytest.raises(TypeError, match="kernel 'linear' takes no extra argument"):
        functional.kernel_dot_product(x, x, "linear", 2.0)
    with pytest.raises(ValueError, match="sigma must be positive, got 0.0"):
        functional.kernel_dot_product(x, x, "gaussian", 0.0)
    with pytest.raises(ValueError, match="sigma must be positive, got -1.0"):
        functional.kernel_dot_product(x, x, "gaussian", -1.0)
    with pytest.raises(ValueError, match="same vector dimension M"):
        functional.kernel_dot_product(x, torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"x must have shape \[N, M\]"):
        functional.kernel_dot_product(torch.randn(2, 3, 1), x)


def _similarity_reference(spikes, labels, kernel_value):
    n = spikes.shape[0]
    s = spikes.reshape(n, -1).tolist()
    lab = labels.tolist()
    sim = [
        [1.0 if any(a and b for a, b in zip(lab[i], lab[j])) else 0.0 for j in range(n)]
        for i in range(n)
    ]
    sim_p = [[kernel_value(s[i], s[j]) for j in range(n)] for i in range(n)]
    return torch.tensor(sim, dtype=torch.float64), torch.tensor(sim_p, dtype=torch.float64)


def _cosine(a, b):
    return _dot(a, b) / (math.sqrt(_dot(a, a)) * math.sqrt(_dot(b, b)) + 1e-8)


@pytest.mark.parametrize("loss_type", ["mse", "l1", "bce"])
def test_spike_similar_loss_linear_matches_hand_formula(loss_type):
    torch.manual_seed(1)
    spikes = (torch.rand(4, 3, 5) > 0.5).double()  # [N, M, T]
    labels = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]])  # multi-label row 1
    sim, sim_p = _similarity_reference(spikes, labels, _cosine)
    if loss_type == "mse":
        expected = ((sim_p - sim) ** 2).mean()
    elif loss_type == "l1":
        expected = (sim_p - sim).abs().mean()
    else:
        p = sim_p.clamp(1e-12, 1 - 1e-12)
        expected = -(sim * p.log() + (1 - sim) * (1 - p).log()).mean()
    got = functional.spike_similar_loss(spikes, labels, "linear", loss_type)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


def test_spike_similar_loss_gaussian_kernel_and_gradient():
    torch.manual_seed(2)
    spikes = torch.rand(3, 2, 4, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([[1, 0], [0, 1], [1, 0]])
    sim, sim_p = _similarity_reference(
        spikes.detach(),
        labels,
        lambda a, b: math.exp(-sum((p - q) ** 2 for p, q in zip(a, b)) / (2 * 0.8**2)),
    )
    loss = functional.spike_similar_loss(spikes, labels, "gaussian", "mse", 0.8)
    torch.testing.assert_close(loss, ((sim_p - sim) ** 2).mean())
    assert torch.autograd.gradcheck(
        lambda s: functional.spike_similar_loss(s, labels, "gaussian", "l1", 0.8), (spikes,)
    )


def test_spike_similar_loss_rejects_bad_arguments():
    spikes = torch.rand(3, 2, 4)
    with pytest.raises(ValueError, match="same N"):
        functional.spike_similar_loss(spikes, torch.ones(2, 2))
    with pytest.raises(ValueError, match="loss_type must be one of"):
        functional.spike_similar_loss(spikes, torch.ones(3, 2), "linear", "ce")


def _tet_loop(x_seq, target):
    return sum(F.cross_entropy(x_seq[t], target) for t in range(x_seq.shape[0])) / x_seq.shape[0]


def test_tet_equals_mean_over_time_of_cross_entropy_with_gradient():
    torch.manual_seed(3)
    x_seq = torch.randn(6, 4, 10, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 10, (4,))
    got = functional.temporal_efficient_training_cross_entropy(x_seq, target)
    ref = _tet_loop(x_seq, target)
    torch.testing.assert_close(got, ref)
    g_got = torch.autograd.grad(got, x_seq)[0]
    g_ref = torch.autograd.grad(ref, x_seq)[0]
    torch.testing.assert_close(g_got, g_ref)
    # closed form of one term: -log softmax(x[t, i])[y_i]
    one = -torch.log_softmax(x_seq[2, 1], 0)[target[1]]
    torch.testing.assert_close(F.cross_entropy(x_seq[2, 1:2], target[1:2]), one)


def test_tet_with_spatial_dims_and_probability_targets():
    torch.manual_seed(4)
    x_seq = torch.randn(3, 2, 5, 7, dtype=torch.float64)  # [T, N, C, L]
    target = torch.randint(0, 5, (2, 7))
    got = functional.temporal_efficient_training_cross_entropy(x_seq, target)
    torch.testing.assert_close(got, _tet_loop(x_seq, target))
    probs = torch.softmax(torch.randn(2, 5, 7, dtype=torch.float64), 1)
    got = functional.temporal_efficient_training_cross_entropy(x_seq, probs)
    torch.testing.assert_close(got, _tet_loop(x_seq, probs))


def test_tet_mse_regularizer_follows_the_paper():
    torch.manual_seed(5)
    x_seq = torch.randn(4, 3, 6, dtype=torch.float64)
    target = torch.randint(0, 6, (3,))
    lamb, phi = 0.05, 1.0
    mse = sum(((x_seq[t] - phi) ** 2).mean() for t in range(4)) / 4
    expected = (1 - lamb) * _tet_loop(x_seq, target) + lamb * mse
    got = functional.temporal_efficient_training_cross_entropy(x_seq, target, lamb=lamb, means=phi)
    torch.testing.assert_close(got, expected)


def test_tet_rejects_mismatched_target():
    x_seq = torch.randn(4, 3, 6)
    with pytest.raises(ValueError, match=r"class indices of shape \(3,\)"):
        functional.temporal_efficient_training_cross_entropy(
            x_seq, torch.zeros(4, dtype=torch.long)
        )
    with pytest.raises(ValueError, match=r"\[T, N, C, \*\]"):
        functional.temporal_efficient_training_cross_entropy(torch.randn(3, 6), torch.zeros(3))
    with pytest.raises(ValueError, match=r"lamb must be in \[0, 1\]"):
        functional.temporal_efficient_training_cross_entropy(
            x_seq, torch.zeros(3, dtype=torch.long), lamb=2.0
        )
