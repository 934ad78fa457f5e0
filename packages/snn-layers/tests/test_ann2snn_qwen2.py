"""Qwen2 post-training conversion (``snn_layers.ann2snn`` Qwen2 names).

The expected numbers were produced by running the same tiny model (weights set by the formula
in ``_tiny_qwen2``, batches ``_BATCHES``) through SpikingJelly 2.0.0's
``calibrate_qwen2_snn`` / ``Qwen2SNNRecipe`` / ``ModuleConverter`` (transformers 5.13.0,
torch 2.14.1, CPU) and printing the tensors to 6 decimals. Tests that need a Hugging Face
model skip when ``transformers`` is not installed.
"""

from types import SimpleNamespace

import pytest
import torch
from snn_core import functional
from snn_layers.ann2snn import (
    ModuleConverter,
    Qwen2SNNCalibration,
    Qwen2SNNConfig,
    Qwen2SNNModel,
    Qwen2SNNRecipe,
    calibrate_qwen2_snn,
)
from torch import nn

_BATCH = {
    "input_ids": torch.tensor([[0, 3, 4, 5, 9], [0, 0, 6, 7, 1]]),
    "attention_mask": torch.tensor([[0, 1, 1, 1, 1], [0, 0, 1, 1, 1]]),
}
_BATCHES = [_BATCH, {k: v[:, 1:] for k, v in _BATCH.items()}]


def _tiny_qwen2(tie: bool):
    transformers = pytest.importorskip("transformers")
    config = transformers.Qwen2Config(
        vocab_size=16, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=1, head_dim=16,
        max_position_embeddings=32, tie_word_embeddings=tie,
    )  # fmt: skip
    model = transformers.Qwen2ForCausalLM(config).eval()
    with torch.no_grad():  # deterministic weights, independent of the init code
        for i, (name, p) in enumerate(sorted(model.named_parameters())):
            k = torch.arange(p.numel(), dtype=torch.float64)
            w = 0.5 * torch.sin(0.37 * k + 1.3 * i) + float(name.endswith("norm.weight"))
            p.copy_(w.view_as(p).float())
    return model


def _convert(tie: bool, quantile: float):
    model = _tiny_qwen2(tie)
    config = Qwen2SNNConfig(
        time_steps=8, calibration_levels=4, calibration_quantile=quantile,
        calibration_reservoir_size=5, calibration_seed=3,
    )  # fmt: skip
    calibration = calibrate_qwen2_snn(model, _BATCHES, config)
    return model, calibration, ModuleConverter(Qwen2SNNRecipe(calibration, config)).convert(model)


@pytest.fixture(scope="module")
def untied():
    return _convert(False, 1.0)


@pytest.fixture(scope="module")
def tied_quantile():
    return _convert(True, 0.9)


# reference values: [input scale[:8], layer 1 key scale[:8], layer 0 mlp scale[:8]],
# then logits[:, -1, :8] for 'exact_td', 'qcfs_sg' and 'signed_if', then greedy tokens
_EXPECTED = {
    "untied": (
        [
            [0.124925, 0.123502, 0.124972, 0.124205,
             0.124997, 0.116873, 0.124998, 0.123775],
            [1.279512, 0.763142, 0.532139, 0.748242,
             0.840956, 1.002909, 0.911364, 0.931731],
            [0.191091, 0.216867, 0.116262, 0.210018,
             0.347774, 0.898327, 0.935060, 1.770422]
        ],
        {
            "exact_td": [
                [0.448698, 0.893335, 0.886998, 0.432887,
                 -0.239754, -0.791363, -0.943475, -0.619302],
                [-1.822370, -0.705961, 0.766831, 1.852511,
                 2.003006, 1.142343, -0.294998, -1.583418]
            ],
            "qcfs_sg": [
                [-0.163516, 0.598606, 1.058539, 0.984101,
                 0.412868, -0.366789, -0.961283, -1.070502],
                [-1.758657, -0.649472, 0.787580, 1.827046,
                 1.944181, 1.079855, -0.329605, -1.572673]
            ],
            "signed_if": [
                [-0.163516, 0.598606, 1.058539, 0.984101,
                 0.412868, -0.366789, -0.961283, -1.070502],
                [-1.758657, -0.649472, 0.787580, 1.827045,
                 1.944181, 1.079854, -0.329605, -1.572673]
            ],
        },
        [[3, 4, 5, 9, 11, 12, 3]],
    ),
    "tied_quantile": (
        [
            [0.111376, 0.110333, 0.115767, 0.116953,
             0.116004, 0.118420, 0.124147, 0.121415],
            [0.946324, 0.567360, 0.195781, 0.557665,
             0.862855, 0.825138, 0.373233, 0.416439],
            [2.567782, 1.722319, 0.995880, 0.779757,
             1.998872, 2.002524, 0.218343, 1.535647]
        ],
        {
            "exact_td": [
                [3.043878, 1.473835, -0.840229, -2.730129,
                 -3.241804, -2.116951, 0.076583, 2.231456],
                [2.340923, 0.780154, -1.174452, -2.536171,
                 -2.617579, -1.377580, 0.557850, 2.211665]
            ],
            "qcfs_sg": [
                [0.969357, 0.533841, -0.171169, -0.789769,
                 -1.009678, -0.719881, -0.066673, 0.620193],
                [2.350809, 0.915938, -0.981317, -2.383183,
                 -2.581970, -1.477326, 0.373102, 2.035181]
            ],
            "signed_if": [
                [0.969358, 0.533841, -0.171169, -0.789770,
                 -1.009679, -0.719882, -0.066674, 0.620193],
                [2.350809, 0.915938, -0.981317, -2.383183,
                 -2.581970, -1.477326, 0.373102, 2.035181]
            ],
        },
        [[3, 4, 5, 9, 8, 0, 8]],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", ["untied", "tied_quantile"])
def test_matches_reference_numbers(case, request):
    model, calibration, snn = request.getfixturevalue(case)
    scales, logits, tokens = _EXPECTED[case]
    assert calibration.valid_token_count == 14
    got = [calibration.input_scale, calibration.layer_scales[1]["key"]]
    got.append(calibration.layer_scales[0]["mlp"])
    for g, e in zip(got, scales):
        torch.testing.assert_close(g[:8], torch.tensor(e), atol=2e-6, rtol=0)
    with torch.inference_mode():
        ann = model(**_BATCH).logits
    for mode, expected in logits.items():
        functional.reset_net(snn)
        with torch.inference_mode():
            out = snn(**_BATCH, encoding_mode=mode).logits
        torch.testing.assert_close(out[:, -1, :8], torch.tensor(expected), atol=1e-5, rtol=0)
        if mode == "exact_td":  # the ANN's own logits (at padding the versions differ)
            valid = _BATCH["attention_mask"].bool()
            torch.testing.assert_close(out[valid], ann[valid], atol=1e-5, rtol=1e-5)
    functional.reset_net(snn)
    assert snn.generate(_BATCH["input_ids"][:1, 1:], max_new_tokens=3).tolist() == tokens


def test_structure_and_calibration_round_trip(tied_quantile):
    _, calibration, snn = tied_quantile
    restored = Qwen2SNNCalibration.from_state_dict(calibration.state_dict())
    assert torch.equal(restored.input_scale, calibration.input_scale)
    assert tuple(restored.layer_scales[1]) == ("query", "key", "value", "mlp")
    for a, b in zip(restored.layer_scales, calibration.layer_scales):
        assert all(torch.equal(a[n], b[n]) for n in b)
    assert (restored.calibration_quantile, restored.valid_token_count) == (0.9, 14)
    assert snn.lm_head.weight is snn.embed_tokens.weight
    summary = snn.structure_summary()
    assert summary["td_linear_count"] == 15 and summary["td_rms_norm_count"] == 5
    assert summary["signed_if_encoder_count"] == 9 and summary["lm_head_tied_to_embedding"]
    names = [record["name"] for record in snn.encoder_statistics()]
    assert names[:5] == ["model.input"] + [f"layer.0.{n}" for n in ("query", "key", "value", "mlp")]
    bad = calibration.state_dict()
    bad["tensors"] = {k: v for k, v in bad["tensors"].items() if k != "layer.1.mlp"}
    with pytest.raises(ValueError, match="query/key/value/mlp"):
        Qwen2SNNCalibration.from_state_dict(bad)


def test_cached_decode_matches_full_sequence(untied):
    _, _, snn = untied
    prompt, nxt = torch.tensor([[1, 2, 3]]), torch.tensor([[4]])
    for mode in ("exact_td", "signed_if"):
        with torch.inference_mode():
            functional.reset_net(snn)
            ones = torch.ones_like(prompt)
            pre = snn(input_ids=prompt, attention_mask=ones, encoding_mode=mode, use_cache=True)
            functional.reset_net(snn)
            full_mask = torch.ones(1, 4, dtype=torch.long)
            cached = snn(
                input_ids=nxt, attention_mask=full_mask, encoding_mode=mode,
                past_key_values=pre.past_key_values, use_cache=True,
            )  # fmt: skip
            functional.reset_net(snn)
            full = snn(input_ids=torch.cat((prompt, nxt), 1), attention_mask=full_mask,
                       encoding_mode=mode)  # fmt: skip
        atol = 1e-5 if mode == "exact_td" else 0.5  # spikes: the cache holds summed K/V
        torch.testing.assert_close(cached.logits[:, -1], full.logits[:, -1], atol=atol, rtol=0)
        assert pre.past_key_values.get_seq_length() == 4
    with pytest.raises(ValueError, match="requires use_cache=True"):
        snn(input_ids=nxt, attention_mask=full_mask, past_key_values=pre.past_key_values)


def test_qcfs_sg_has_gradients(untied):
    _, _, snn = untied
    functional.reset_net(snn)
    snn(**_BATCH, encoding_mode="qcfs_sg").logits.sum().backward()
    grads = [p.grad for p in snn.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    snn.zero_grad(set_to_none=True)
    functional.reset_net(snn)


def test_calibration_errors_and_hooks_removed():
    model = _tiny_qwen2(False)
    with pytest.raises(TypeError, match="tensor input_ids"):
        calibrate_qwen2_snn(model, [{"input_ids": "x", "attention_mask": torch.ones(1, 1)}],
                            Qwen2SNNConfig())  # fmt: skip
    assert not any(m._forward_pre_hooks or m._forward_hooks for m in model.modules())
    model.config.use_mrope = True
    with pytest.raises(ValueError, match="MRoPE"):
        calibrate_qwen2_snn(model, _BATCHES, Qwen2SNNConfig())
    model.config.use_mrope = False
    with pytest.raises(ValueError, match="eval"):
        calibrate_qwen2_snn(model.train(), _BATCHES, Qwen2SNNConfig())
    with pytest.raises(TypeError, match="qwen2"):
        calibrate_qwen2_snn(nn.Linear(2, 2).eval(), _BATCHES, Qwen2SNNConfig())


def test_recipe_rejects_mismatched_calibration(untied):
    model, calibration, _ = untied
    with pytest.raises(ValueError, match="time_steps does not match"):
        ModuleConverter(Qwen2SNNRecipe(calibration, Qwen2SNNConfig())).convert(model)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("time_steps", 1.5, TypeError), ("time_steps", True, TypeError),
        ("time_steps", 0, ValueError), ("calibration_levels", 1.5, TypeError),
        ("calibration_levels", 64, ValueError), ("calibration_quantile", 0.0, ValueError),
        ("calibration_reservoir_size", 1.5, TypeError),
        ("calibration_reservoir_size", 0, ValueError), ("calibration_seed", 1.5, TypeError),
    ],
)  # fmt: skip
def test_config_rejects_bad_values(name, value, error):
    with pytest.raises(error, match=name):
        Qwen2SNNConfig(**{name: value})


def test_config_defaults():
    c = Qwen2SNNConfig()
    assert (c.time_steps, c.calibration_levels, c.calibration_quantile) == (32, 16, 1.0)
    assert (c.calibration_reservoir_size, c.calibration_seed) == (4096, 20260719)


def test_generate_runs_in_inference_mode_and_is_greedy():
    class Stub(Qwen2SNNModel):
        def __init__(self):
            nn.Module.__init__(self)
            self.grad_enabled = []

        def forward(self, input_ids, **kwargs):
            self.grad_enabled.append(torch.is_grad_enabled())
            logits = torch.zeros(*input_ids.shape, 3)
            logits[..., 2] = 1.0
            return SimpleNamespace(logits=logits, past_key_values=None)

    stub = Stub()
    assert stub.generate(torch.tensor([[0, 1]]), max_new_tokens=2).tolist() == [[0, 1, 2, 2]]
    assert stub.grad_enabled == [False, False]
    with pytest.raises(ValueError, match="greedy"):
        stub.generate(torch.tensor([[0]]), max_new_tokens=1, num_beams=2)
