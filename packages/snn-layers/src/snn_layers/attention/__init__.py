"""Attention layers for deep SNNs.

- Convolutional SNNs: :class:`TemporalWiseAttention` (TA-SNN, ``ta_snn.py``),
  :class:`MultiDimensionalAttention` (MA-SNN, ``ma_snn.py``).
- Spiking Transformers: :class:`SpikingSelfAttention` (Spikformer, ``spikformer.py``),
  :class:`QKAttention`, :class:`TokenQKAttention`, :class:`ChannelQKAttention`
  (QKFormer, ``qkformer.py``), :class:`SpikeDrivenSelfAttention` (Spike-driven
  Transformer, ``spike_driven.py``).

All are multi-step only (``step_mode='m'``). The spiking ones take ``neuron``,
``neuron_kwargs`` and ``backend`` to choose their neurons; :func:`make_neuron_factory` is
the rule they use, exported for models built from these layers.
"""

from snn_layers.attention._neuron import make_neuron_factory
from snn_layers.attention.ma_snn import MultiDimensionalAttention
from snn_layers.attention.qkformer import ChannelQKAttention, QKAttention, TokenQKAttention
from snn_layers.attention.spike_driven import SpikeDrivenSelfAttention
from snn_layers.attention.spikformer import SpikingSelfAttention
from snn_layers.attention.ta_snn import TemporalWiseAttention

__all__ = [
    "TemporalWiseAttention",
    "MultiDimensionalAttention",
    "SpikingSelfAttention",
    "QKAttention",
    "TokenQKAttention",
    "ChannelQKAttention",
    "SpikeDrivenSelfAttention",
    "make_neuron_factory",
]
