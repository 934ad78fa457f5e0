"""RandomTemporalDelete keeps T_remain time steps, in order, with np.random.choice."""

import numpy as np
import pytest
import torch
from snn_datasets import RandomTemporalDelete, random_temporal_delete


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("as_array", [np.asarray, torch.as_tensor])
def test_keeps_the_drawn_steps_in_order(batch_first, as_array):
    seq = as_array(np.arange(10).reshape(5, 2))
    if batch_first:
        seq = seq.T
    np.random.seed(1)  # noqa: NPY002
    expected_steps = np.sort(np.random.choice(5, 3, replace=False))  # noqa: NPY002
    np.random.seed(1)  # noqa: NPY002
    out = random_temporal_delete(seq, T_remain=3, batch_first=batch_first)
    assert type(out) is type(seq)
    expected = seq[:, expected_steps] if batch_first else seq[expected_steps]
    assert (np.asarray(out) == np.asarray(expected)).all()
    assert out.shape == ((2, 3) if batch_first else (3, 2))


def test_module_uses_its_layout():
    np.random.seed(0)  # noqa: NPY002
    out = RandomTemporalDelete(T_remain=2, batch_first=True)(torch.arange(8).reshape(2, 4))
    steps = out[0].tolist()
    assert out.shape == (2, 2) and steps == sorted(steps)
    assert out[1].tolist() == [s + 4 for s in steps]
    assert "T_remain=2" in repr(RandomTemporalDelete(2, True))


def test_too_many_steps_is_an_error():
    with pytest.raises(ValueError, match=r"T_remain must be in \[0, T=4\], got 5"):
        random_temporal_delete(torch.zeros(4, 2), 5, batch_first=False)
