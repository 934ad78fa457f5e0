"""powerlaw_psd_gaussian: spectral slope, variance, cutoff, reproducibility."""

import pytest
import torch
from snn_neurons import powerlaw_psd_gaussian


def _spectral_slope(y: torch.Tensor, f_lo: float = 0.0) -> float:
    """Least-squares slope of log power vs. log frequency (DC and Nyquist left out)."""
    n = y.shape[-1]
    power = (torch.fft.rfft(y, dim=-1).abs() ** 2).mean(0)[1:-1]
    f = torch.fft.rfftfreq(n, dtype=torch.float64)[1:-1]
    keep = f > f_lo
    lx, ly = f[keep].log(), power[keep].log()
    lx = lx - lx.mean()
    return float((lx * (ly - ly.mean())).sum() / (lx * lx).sum())


@pytest.mark.parametrize("exponent", [0.0, 0.5, 1.0, 2.0])
def test_measured_spectral_slope_matches_the_exponent(exponent):
    y = powerlaw_psd_gaussian(exponent, (16, 8192), random_state=0)
    assert y.shape == (16, 8192) and y.dtype == torch.float64
    assert _spectral_slope(y) == pytest.approx(-exponent, abs=0.05)


def test_output_has_unit_variance_around_each_series_mean():
    # the normalisation leaves the random DC term out, as in Timmer & Koenig's method
    for exponent in (0.0, 1.0):
        y = powerlaw_psd_gaussian(exponent, (64, 4096), random_state=1)
        assert y.var(-1, unbiased=False).mean().item() == pytest.approx(1.0, rel=0.05)


def test_spectrum_is_flat_below_fmin():
    y = powerlaw_psd_gaussian(2.0, (64, 4096), fmin=0.1, random_state=2)
    f = torch.fft.rfftfreq(4096, dtype=torch.float64)
    power = (torch.fft.rfft(y, dim=-1).abs() ** 2).mean(0)
    low = power[1:][f[1:] < 0.1]
    assert abs(_spectral_slope(y, f_lo=0.1) + 2.0) < 0.1
    ratio = low[: len(low) // 2].mean() / low[len(low) // 2 :].mean()
    assert ratio == pytest.approx(1.0, abs=0.15)  # flat, not f^-2 (which would be ~5x)


def test_random_state_makes_it_reproducible():
    a = powerlaw_psd_gaussian(1.0, 64, random_state=3)
    b = powerlaw_psd_gaussian(1.0, [64], random_state=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, powerlaw_psd_gaussian(1.0, 64, random_state=4))
    assert powerlaw_psd_gaussian(1.0, (2, 3, 7)).shape == (2, 3, 7)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(size=0), ValueError, "size"),
        (dict(size="8"), TypeError, "size"),
        (dict(size=8, fmin=0.7), ValueError, "fmin"),
        (dict(size=8, random_state=1.5), TypeError, "random_state"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        powerlaw_psd_gaussian(1.0, **kwargs)
