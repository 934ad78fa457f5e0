"""Gaussian noise with a power-law spectrum ``S(f) ∝ f^(-beta)`` (colored noise).

Method of Timmer & König, 1995, "On generating power law noise", Astron. Astrophys. 300,
707-710: draw each Fourier coefficient of a real signal as a complex Gaussian whose
standard deviation is ``f^(-beta/2)`` (real DC and Nyquist terms), invert the FFT, and
divide by the theoretical standard deviation so that the output has unit variance.
``beta = 0`` is white noise, ``1`` pink (flicker) noise, ``2`` brown noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch

__all__ = ["powerlaw_psd_gaussian"]


def _check_size(size: Any) -> list[int]:
    if isinstance(size, int) and not isinstance(size, bool):
        size = [size]
    elif isinstance(size, Iterable) and not isinstance(size, (str, bytes)):
        size = list(size)
    else:
        raise TypeError(f"size must be an int or an iterable of ints, got {size!r}")
    if not size or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in size):
        raise ValueError(f"size must be positive ints (the last one is time), got {size!r}")
    return size


def _generator(random_state: Any) -> torch.Generator | None:
    if random_state is None or isinstance(random_state, torch.Generator):
        return random_state
    if isinstance(random_state, int) and not isinstance(random_state, bool):
        return torch.Generator().manual_seed(random_state)
    raise TypeError(
        f"random_state must be None, an int seed or a torch.Generator, got {random_state!r}"
    )


def powerlaw_psd_gaussian(
    exponent: float,
    size: int | Iterable[int],
    fmin: float = 0.0,
    random_state: int | torch.Generator | None = None,
) -> torch.Tensor:
    """Gaussian noise with power spectrum ``S(f) = (1/f)^exponent``, unit variance.

    Args:
        exponent: the spectral exponent ``beta`` (0 white, 1 pink, 2 brown).
        size: output shape; the last dimension is time, the others are independent series.
        fmin: low-frequency cutoff in units of the sampling rate, in [0, 0.5]; the spectrum
            is flat below ``max(fmin, 1/size[-1])``; 0.5 gives white noise.
        random_state: ``None`` (torch's global generator), an int seed, or a
            ``torch.Generator``.

    Returns:
        A float64 CPU tensor of shape ``size`` (the reference returns a NumPy array).
    """
    if isinstance(exponent, bool) or not isinstance(exponent, (int, float)):
        raise TypeError(f"exponent must be a real number, got {exponent!r}")
    shape = _check_size(size)
    if isinstance(fmin, bool) or not isinstance(fmin, (int, float)) or not 0.0 <= fmin <= 0.5:
        raise ValueError(f"fmin must be a number in [0, 0.5], got {fmin!r}")
    generator = _generator(random_state)
    n = shape[-1]
    f = torch.fft.rfftfreq(n, dtype=torch.float64)
    fmin = max(float(fmin), 1.0 / n)
    scale = f.clone()
    cut = int((scale < fmin).sum())
    if 0 < cut < scale.numel():
        scale[:cut] = scale[cut]
    scale = scale ** (-float(exponent) / 2.0)
    # Theoretical standard deviation of the inverse FFT (the DC term is left out).
    w = scale[1:].clone()
    if w.numel():
        w[-1] *= (1 + n % 2) / 2.0
    sigma = 2.0 * math.sqrt(float((w**2).sum())) / n
    coeff_shape = [*shape[:-1], f.numel()]
    real = torch.randn(coeff_shape, generator=generator, dtype=torch.float64) * scale
    imag = torch.randn(coeff_shape, generator=generator, dtype=torch.float64) * scale
    if n % 2 == 0:  # the Nyquist coefficient of an even-length real signal is real
        imag[..., -1] = 0.0
        real[..., -1] *= math.sqrt(2.0)
    imag[..., 0] = 0.0  # so is the DC coefficient
    real[..., 0] *= math.sqrt(2.0)
    y = torch.fft.irfft(torch.complex(real, imag), n=n, dim=-1)
    return y / sigma if sigma > 0 else y
