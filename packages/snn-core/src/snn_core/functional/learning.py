"""The reference framework's import path ``functional.learning``: STDP / MSTDP / MSTDPET
steps, re-exported.

The functions live in :mod:`snn_core.functional.plasticity`; import them from
``snn_core.functional``.
"""

from snn_core.functional.plasticity import (
    mstdp_linear_step,
    mstdpet_linear_step,
    mstdpet_reward_step,
    stdp_conv1d_step,
    stdp_conv2d_step,
    stdp_linear_step,
)

__all__ = [
    "stdp_linear_step",
    "mstdp_linear_step",
    "mstdpet_linear_step",
    "stdp_conv1d_step",
    "stdp_conv2d_step",
    "mstdpet_reward_step",
]
