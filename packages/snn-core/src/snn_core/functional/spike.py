"""The reference framework's import path ``functional.spike``: bit-packed spikes and
spike-input linear layers, re-exported.

The functions live in :mod:`snn_core.functional.spike_ops` and
:mod:`snn_core.functional.neuron_steps`; import them from ``snn_core.functional``.
"""

from snn_core.functional.neuron_steps import if_linear, lif_linear
from snn_core.functional.spike_ops import (
    bit_pack_spike_dense,
    bit_spike_compress,
    bit_spike_decompress,
    packed_spike_linear,
    sparse_linear,
)

__all__ = [
    "bit_spike_compress",
    "bit_spike_decompress",
    "bit_pack_spike_dense",
    "packed_spike_linear",
    "sparse_linear",
    "if_linear",
    "lif_linear",
]
