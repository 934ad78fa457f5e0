"""Cases of tests/test_rnn_reference.py and the script that made their expected values.

Every number here is a small dyadic rational (weights ``k/16``, inputs ``k/4``), so the
pre-activations are exact in float32 whatever the summation order, and the spikes cannot
flip between torch versions. ``run_case`` is written against a module pair
``(rnn, surrogate)`` so that the same code runs the reference and this package.

Regenerate ``rnn_reference.npz`` with the reference installed (spikingjelly==2.0.0):

    python packages/snn-layers/tests/data/rnn_reference_cases.py
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch

T, N, INPUT, HIDDEN, LAYERS = 3, 2, 3, 2, 2
FIXTURE = Path(__file__).with_name("rnn_reference.npz")

# name: (class, bidirectional, bias, given states?, surrogate keyword arguments as
# {argument: (surrogate class name, constructor kwargs)}, optional dropout between layers
# as (dropout_p, invariant_dropout_mask): then the model runs in training mode after
# torch.manual_seed(0), so these cases also pin where the reference draws its masks)
CASES: dict[str, tuple[Any, ...]] = {
    "vanilla": ("SpikingVanillaRNN", False, True, True, {}),
    "vanilla_bi_nobias_sigmoid": (
        "SpikingVanillaRNN",
        True,
        False,
        False,
        {"surrogate_function": ("Sigmoid", {"alpha": 3.0})},
    ),
    "gru": ("SpikingGRU", False, True, True, {}),
    "gru_bi_atan": (
        "SpikingGRU",
        True,
        True,
        False,
        {"surrogate_function2": ("ATan", {})},
    ),
    "gru_bi_dropout": ("SpikingGRU", True, True, False, {}, (0.5, False)),
    "lstm": ("SpikingLSTM", False, True, True, {}),
    "lstm_bi_invariant_dropout": ("SpikingLSTM", True, True, True, {}, (0.5, True)),
    "lstm_bi_sigmoid": (
        "SpikingLSTM",
        True,
        True,
        True,
        {"surrogate_function2": ("Sigmoid", {})},
    ),
    "lstm_bi_smooth": (
        "SpikingLSTM",
        True,
        True,
        False,
        {
            "surrogate_function1": ("Sigmoid", {"spiking": False}),
            "surrogate_function2": ("ATan", {"spiking": False}),
        },
    ),
}


def _pattern(shape: tuple[int, ...], mul: int, add: int, mod: int, den: float) -> torch.Tensor:
    n = int(np.prod(shape))
    k = (torch.arange(n, dtype=torch.int64) * mul + add) % mod - mod // 2
    return (k.to(torch.float32) / den).reshape(shape)


def build(rnn: ModuleType, surrogate: ModuleType, name: str) -> torch.nn.Module:
    """The case's model, its parameters set by a fixed pattern (state_dict order)."""
    cls, bidirectional, bias, _, sgs, *dropout = CASES[name]
    kwargs = {arg: getattr(surrogate, sg)(**kw) for arg, (sg, kw) in sgs.items()}
    if dropout:
        kwargs["dropout_p"], kwargs["invariant_dropout_mask"] = dropout[0]
    model = getattr(rnn, cls)(
        INPUT, HIDDEN, LAYERS, bias=bias, bidirectional=bidirectional, **kwargs
    )
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(_pattern(tuple(p.shape), 7, 3 * i + 1, 23, 16.0))
    return model.train(len(CASES[name]) > 5)


def run_case(rnn: ModuleType, surrogate: ModuleType, name: str) -> dict[str, np.ndarray]:
    """Outputs, final states and gradients of a weighted sum of them, as float32 arrays."""
    cls, bidirectional, _, given = CASES[name][:4]
    model = build(rnn, surrogate, name)
    directions = 2 if bidirectional else 1
    count = 2 if cls == "SpikingLSTM" else 1
    x = _pattern((T, N, INPUT), 5, 2, 13, 4.0).requires_grad_()
    s0 = _pattern((count, LAYERS * directions, N, HIDDEN), 3, 1, 3, 1.0).abs()
    s0.requires_grad_(given)
    states = None if not given else (s0[0] if count == 1 else tuple(s0))
    torch.manual_seed(0)
    y, s = model(x, states)
    s = s.unsqueeze(0) if count == 1 else torch.stack(s)
    loss = (y * _pattern(tuple(y.shape), 5, 1, 7, 4.0)).sum() + (
        s * _pattern(tuple(s.shape), 3, 2, 5, 4.0)
    ).sum()
    loss.backward()
    out = {"output": y, "states": s, "grad_x": x.grad}
    if given:
        out["grad_states"] = s0.grad
    out["grad_params"] = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
    return {k: v.detach().numpy().astype(np.float32) for k, v in out.items()}


def load_expected() -> dict[str, dict[str, np.ndarray]]:
    """The reference's values from the fixture: ``{case: {key: array}}``."""
    with np.load(FIXTURE, allow_pickle=False) as data:
        values, index = data["values"], data["index"]
    expected: dict[str, dict[str, np.ndarray]] = {}
    start = 0
    for entry in index:
        name, shape_text = str(entry).split(":")
        case, key = name.split("/")
        shape = tuple(int(n) for n in shape_text.split(",") if n)
        size = int(np.prod(shape))
        expected.setdefault(case, {})[key] = values[start : start + size].reshape(shape)
        start += size
    return expected


if __name__ == "__main__":
    from spikingjelly.activation_based import rnn as ref_rnn
    from spikingjelly.activation_based import surrogate as ref_surrogate

    chunks, index = [], []
    for case in CASES:
        for key, value in run_case(ref_rnn, ref_surrogate, case).items():
            chunks.append(value.reshape(-1))
            index.append(f"{case}/{key}:" + ",".join(str(n) for n in value.shape))
    np.savez_compressed(FIXTURE, values=np.concatenate(chunks), index=np.array(index))
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")
