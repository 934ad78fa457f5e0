"""STATransformerRecipe: Spatio-Temporal Approximation conversion (Jiang et al., ICLR 2024).

Independent references: hand-computed encoder / observer / constant cases, the closed form
of ``mode='equivalent'`` (cumulative output == ANN on the cumulative input), the
single-step loop against the multi-step run, and numbers from SpikingJelly 2.0.0.

The ``REF_*`` literals were produced by running ``spikingjelly.activation_based.ann2snn``
2.0.0 (venv-ref, torch 2.14.1 CPU) on exactly the ``Block`` / ``wave`` model, calibration
and inputs below (weights built from ``sin`` so no RNG is involved), printing the outputs
and thresholds rounded to 6-7 decimals; our port gives the same printout.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from snn_core import functional
from snn_layers import ann2snn
from snn_layers.ann2snn import Converter, STATransformerRecipe
from snn_layers.ann2snn.operators import TDLayerNorm, TDLinear, TDMultiheadAttention
from snn_layers.ann2snn.recipes.sta_transformer import (
    _STAConstant,
    _STASpikeEncoder,
    _STAThresholdObserver,
)
from torch import nn

T = 4


def wave(shape: tuple[int, ...], phase: float, scale: float = 1.0) -> torch.Tensor:
    n = torch.Size(shape).numel()
    return (torch.sin(torch.arange(n, dtype=torch.float32) * 0.37 + phase) * scale).reshape(shape)


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4)
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.fc1 = nn.Linear(4, 6)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(6, 3)
        self.pos = nn.Parameter(wave((1, 3, 4), 2.0, 0.2))
        with torch.no_grad():
            for k, (name, p) in enumerate(sorted(self.named_parameters())):
                if name != "pos":
                    p.copy_(wave(tuple(p.shape), 0.5 * k, 0.6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos
        h = self.norm(x)
        a, _ = self.attn(h, h, h, need_weights=False)
        x = x + a
        return self.fc2(self.act(self.fc1(x))).mean(dim=1)


CALIB = [(wave((2, 3, 4), 1.0, 1.2),), (wave((2, 3, 4), 2.5, 0.9),)]
X = wave((2, 3, 4), 0.0, 1.5)
SEQ = wave((T, 2, 3, 4), 0.7, 0.8)

REF_NORM_THRESHOLD = {
    "mse": [0.0408709, 0.0367667, 0.0330956, 0.0333697],
    "max": [0.3269672, 0.2941336, 0.2647647, 0.266958],
}
REF_ACT_THRESHOLD_MSE = [0.0168406, 0.0699455, 0.0250691, 0.1192857, 0.0323148, 0.0113873]
REF_FIRST_STEP = {  # X at t = 0, zeros after: the output at t = 0 (later steps are 0)
    "mse": [-1.580301, 0.625151, 0.406839, -1.652552, 0.586609, 0.525692],
    "max": [-1.413667, 0.543617, 0.338789, -1.402139, 0.466151, 0.420926],
}
REF_SEQ_MSE = [
    -1.06918, 0.313229, 0.272864, -1.012564, 0.365327, 0.153256,
    0.488541, -0.241715, -0.196282, 0.153829, -0.095874, -0.037908,
    -0.327403, 0.218338, 0.06341, 0.077964, -0.028561, -0.043431,
    0.090147, -0.133786, 0.071614, -0.266162, 0.152896, 0.081295,
]  # fmt: skip
REF_OBSERVER = {  # wave((3, 5), 0.3, 2.0), channel_dim=0, T=4, momentum 0.25, then x 0.5
    "max": ([0.4935501, 0.4184494, 0.4998094], [0.4318563, 0.3661432, 0.4373333]),
    "mse": ([0.0616938, 0.0523062, 0.0624762], [0.053982, 0.0457679, 0.0546667]),
}


def first_then_zero(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x.unsqueeze(0), torch.zeros(T - 1, *x.shape)])


def convert(model: nn.Module, **kwargs) -> nn.Module:
    kwargs.setdefault("time_steps", T)
    return Converter(STATransformerRecipe(**kwargs)).convert(model)


def run_m(net: nn.Module, seq: torch.Tensor) -> torch.Tensor:
    functional.set_step_mode(net, "m")
    functional.reset_net(net)
    with torch.no_grad():
        return net(seq)


def run_s(net: nn.Module, seq: torch.Tensor) -> torch.Tensor:
    functional.set_step_mode(net, "s")
    functional.reset_net(net)
    with torch.no_grad():
        return torch.stack([net(x) for x in seq])


# ---------------------------------------------------------------- building blocks
def test_exported_like_the_reference():
    assert ann2snn.STATransformerRecipe is STATransformerRecipe
    assert "STATransformerRecipe" in ann2snn.__all__
    assert "STATransformerRecipe" in ann2snn.recipes.__all__


def test_spike_encoder_hand_computed():
    # thresholds 0.5 and 0.25; u += x, s = theta * trunc(u / theta), u -= s (dyadic: exact)
    x = torch.tensor([0.25, 0.5, 1.25, -1.0, 0.125]).repeat(2, 1).T.reshape(5, 1, 2)
    enc = _STASpikeEncoder(torch.tensor([0.5, 0.25]), channel_dim=-1, step_mode="m")
    y = enc(x)
    want = torch.tensor([[0.0, 0.5, 1.5, -1.0, 0.0], [0.25, 0.5, 1.25, -1.0, 0.0]]).T
    assert torch.equal(y.reshape(5, 2), want)
    assert torch.equal(enc.mem, torch.tensor([[0.125, 0.125]]))
    enc.reset()
    enc.step_mode = "s"
    assert torch.equal(torch.stack([enc(v) for v in x]), y)


def test_spike_encoder_zero_threshold_is_clamped():
    enc = _STASpikeEncoder(torch.zeros(3), channel_dim=-1, step_mode="m")
    y = enc(torch.zeros(4, 2, 3))
    assert torch.isfinite(y).all() and torch.count_nonzero(y) == 0


def test_constant_emits_value_once():
    value = torch.tensor([1.5, -2.0])
    const = _STAConstant(value, time_steps=3, step_mode="s")
    assert [const().tolist() for _ in range(3)] == [[1.5, -2.0], [0.0, 0.0], [0.0, 0.0]]
    const.reset()
    const.step_mode = "m"
    assert const().tolist() == [[1.5, -2.0], [0.0, 0.0], [0.0, 0.0]]
    assert const().tolist() == [[0.0, 0.0]] * 3  # state continues: no second emission
    assert const.t == 6


def test_observer_max_hand_computed_with_momentum():
    obs = _STAThresholdObserver(4, channel_dim=0, mode="max", momentum=0.25, eps=1e-6)
    a = torch.tensor([[1.0, -3.0], [2.0, 0.5]])
    obs(a)  # max |a| per channel / T = [3, 2] / 4
    assert torch.equal(obs.threshold, torch.tensor([0.75, 0.5]))
    obs(2 * a)  # 0.75 * old + 0.25 * [1.5, 1.0]
    assert torch.equal(obs.compute_threshold(), torch.tensor([0.9375, 0.625]))
    assert obs.num_batches_tracked == 2


def test_observer_mse_keeps_first_best_factor():
    # one value 1.0, T = 4: clipping factors 0.125, 0.25, 0.5, 1.0 all quantise it exactly;
    # the first (0.125) wins, so the threshold is 0.125 / 4.
    obs = _STAThresholdObserver(4, channel_dim=-1, mode="mse", momentum=0.1, eps=1e-6)
    obs(torch.ones(1, 1))
    assert torch.equal(obs.threshold, torch.tensor([0.03125]))


@pytest.mark.parametrize("mode", ["max", "mse"])
def test_observer_matches_reference(mode):
    obs = _STAThresholdObserver(4, channel_dim=0, mode=mode, momentum=0.25, eps=1e-6)
    a = wave((3, 5), 0.3, 2.0)
    obs(a)
    first = obs.threshold.clone()
    obs(a * 0.5)
    want_first, want = REF_OBSERVER[mode]
    torch.testing.assert_close(first, torch.tensor(want_first), rtol=0, atol=1e-6)
    torch.testing.assert_close(obs.threshold, torch.tensor(want), rtol=0, atol=1e-6)


def test_observer_errors():
    obs = _STAThresholdObserver(4, channel_dim=0, mode="max", momentum=0.1, eps=1e-6)
    with pytest.raises(ValueError, match="No STA calibration"):
        obs.compute_threshold()
    with pytest.raises(ValueError, match="rank >= 2"):
        obs(torch.ones(3))
    with pytest.raises(TypeError, match="tensor"):
        obs("x")


# ---------------------------------------------------------------- whole conversion
def test_equivalent_mode_closed_form():
    model = Block().eval()
    net = convert(model)
    mods = dict(net.named_modules())
    assert isinstance(mods["attn"], TDMultiheadAttention)
    assert isinstance(mods["norm"], TDLayerNorm) and isinstance(mods["fc1"], TDLinear)
    assert any(isinstance(m, _STAConstant) for m in mods.values())  # self.pos
    assert net.time_steps == T and model.training is False
    y = run_m(net, SEQ)
    with torch.no_grad():
        want = torch.stack([model(SEQ[: t + 1].sum(0)) for t in range(T)])
    torch.testing.assert_close(y.cumsum(0), want, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(run_s(net, SEQ), y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("threshold_mode", ["mse", "max"])
def test_spiking_encoder_matches_reference(threshold_mode):
    net = convert(Block().eval(), dataloader=CALIB, mode="spiking_encoder",
                  threshold_mode=threshold_mode)  # fmt: skip
    mods = dict(net.named_modules())
    assert {"norm_sta_encoder", "act_sta_encoder", "getitem_sta_encoder"} <= set(mods)
    torch.testing.assert_close(
        mods["norm_sta_encoder"].v_threshold,
        torch.tensor(REF_NORM_THRESHOLD[threshold_mode]), rtol=0, atol=1e-6,
    )  # fmt: skip
    y = run_m(net, first_then_zero(X))
    torch.testing.assert_close(y[0].flatten(), torch.tensor(REF_FIRST_STEP[threshold_mode]),
                               rtol=0, atol=1e-5)  # fmt: skip
    assert torch.count_nonzero(y[1:]) == 0


def test_spiking_encoder_sequence_matches_reference_and_step_loop():
    net = convert(Block().eval(), dataloader=CALIB, mode="spiking_encoder")
    torch.testing.assert_close(
        net.act_sta_encoder.v_threshold, torch.tensor(REF_ACT_THRESHOLD_MSE), rtol=0, atol=1e-6
    )
    y = run_m(net, SEQ)
    torch.testing.assert_close(y.flatten(), torch.tensor(REF_SEQ_MSE), rtol=0, atol=1e-5)
    torch.testing.assert_close(run_s(net, SEQ), y, rtol=1e-5, atol=1e-6)


def test_threshold_scale_and_calibration_batch_limit():
    base = convert(Block().eval(), dataloader=CALIB[:1], mode="spiking_encoder")
    net = convert(Block().eval(), dataloader=CALIB, mode="spiking_encoder",
                  threshold_scale=2.0, num_calibration_batches=1)  # fmt: skip
    torch.testing.assert_close(net.norm_sta_encoder.v_threshold,
                               2 * base.norm_sta_encoder.v_threshold)  # fmt: skip


class _MaskedAttention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(4, 2, batch_first=True)
        self.register_buffer("mask", torch.tensor([[0.0, -1e4, 0.0]] * 3))

    def forward(self, x):
        return self.attn(x, x, x, None, False, self.mask)[0].mean(dim=1)


def test_positional_mha_mask_stays_static():
    torch.manual_seed(0)
    model = _MaskedAttention().eval()
    net = convert(model)
    assert not any(n.startswith("sta_time_constant") for n, _ in net.named_modules())
    x = torch.randn(2, 3, 4)
    torch.testing.assert_close(run_m(net, first_then_zero(x)).sum(0), model(x),
                               rtol=1e-5, atol=1e-5)  # fmt: skip


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "spiking_encoder"}, "dataloader"),
        ({"time_steps": 0}, "time_steps"),
        ({"time_steps": True}, "time_steps"),
        ({"mode": "other"}, "mode"),
        ({"threshold_mode": "p99"}, "threshold_mode"),
        ({"threshold_scale": float("inf")}, "threshold_scale"),
        ({"spike_classifier": 1}, "spike_classifier"),
        ({"mode": "spiking_affine", "dataloader": CALIB}, "spiking affine"),
        ({"spike_conv2d": True, "dataloader": CALIB}, "spiking affine"),
        ({"momentum": -0.1}, "momentum"),
        ({"num_calibration_batches": 0}, "num_calibration_batches"),
        ({"show_progress": "yes"}, "show_progress"),
        ({"eps": 0}, "eps"),
    ],
)
def test_bad_settings_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        convert(Block().eval(), **kwargs)


class _Fn(nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn
        self.weight = nn.Parameter(torch.ones(3, 4))

    def forward(self, x):
        return self.fn(self, x)


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda m, x: F.linear(x, m.weight), "function node.*linear"),
        (lambda m, x: x.permute(1, 0, 2), "preserve the original batch"),
        (lambda m, x: x[0], "integer tensor getitem"),
        (lambda m, x: x[1:], "preserve the original batch"),
        (lambda m, x: x.sum(), "tensor method 'sum'"),
        (lambda m, x: x.mean(), "explicit dim"),
        (lambda m, x: torch.stack([x, x], dim=1), "function node"),
    ],
)
def test_unsupported_graph_ops_are_refused(fn, match):
    with pytest.raises(ValueError, match=match):
        convert(_Fn(fn).eval())


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda m, x: x.reshape(x.shape[0] * 2, -1), "preserve the original batch"),
        (lambda m, x: torch.cat((x, x), dim=-3), "batch dimensions"),
        (lambda m, x: x.mean(dim=0), "batch dimensions"),
    ],
)
def test_batch_mixing_is_refused_in_multi_step(fn, match):
    net = convert(_Fn(fn).eval())
    run_s(net, torch.ones(T, 2, 3, 4))  # fine one step at a time
    with pytest.raises(ValueError, match=match):
        run_m(net, torch.ones(T, 2, 3, 4))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a, x: a(x, x, x, need_weights=True)[0], "need_weights=False"),
        (lambda a, x: a(x, x, x)[1], "attention weights"),
        (lambda a, x: a(x, x, x, key_padding_mask=x[..., 0] > 0)[0], "key_padding_mask"),
    ],
)
def test_unsupported_attention_calls_are_refused(call, match):
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(4, 2, batch_first=True)

        def forward(self, x):
            return call(self.attn, x)

    with pytest.raises(ValueError, match=match):
        convert(M().eval())


def test_attention_add_bias_kv_is_refused():
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.attn = nn.MultiheadAttention(4, 2, batch_first=True, add_bias_kv=True)

        def forward(self, x):
            return self.attn(x, x, x, need_weights=False)[0]

    with pytest.raises(ValueError, match="add_bias_kv"):
        convert(M().eval())


def test_shape_ops_follow_the_step_mode():
    # unflatten / transpose / flatten / mean with literal dims: 's' loop == 'm' sequence
    def fn(m, x):
        return x.unflatten(-1, (2, 2)).transpose(1, 2).flatten(2).mean(dim=1)

    net = convert(_Fn(fn).eval())
    seq = wave((T, 2, 3, 4), 0.1)
    y = run_m(net, seq)
    assert y.shape == (T, 2, 6)
    torch.testing.assert_close(y, torch.stack([fn(None, x) for x in seq]))
    torch.testing.assert_close(run_s(net, seq), y)
