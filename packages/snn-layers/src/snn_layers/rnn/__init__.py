"""Spiking recurrent layers: LSTM, GRU and vanilla RNN with spikes for gates and states
(the reference framework's ``activation_based.rnn``).

Cells (``SpikingLSTMCell``, ``SpikingGRUCell``, ``SpikingVanillaRNNCell``) run one step
``[N, input_size] -> [N, hidden_size]``; the stacked networks (``SpikingLSTM``,
``SpikingGRU``, ``SpikingVanillaRNN``) run a sequence ``[T, N, input_size]``, time first,
with ``num_layers`` layers, optional bidirectional layers and dropout between layers.
"""

from snn_core import surrogate  # noqa: F401  (the reference's ``rnn.surrogate``)

from snn_layers.rnn._cell_base import SpikingRNNCellBase
from snn_layers.rnn._gru import SpikingGRU, SpikingGRUCell
from snn_layers.rnn._lstm import SpikingLSTM, SpikingLSTMCell
from snn_layers.rnn._stack import SpikingRNNBase
from snn_layers.rnn._time_loop import bidirectional_rnn_cell_forward, directional_rnn_cell_forward
from snn_layers.rnn._vanilla import SpikingVanillaRNN, SpikingVanillaRNNCell

__all__ = [
    "directional_rnn_cell_forward",
    "bidirectional_rnn_cell_forward",
    "SpikingRNNCellBase",
    "SpikingRNNBase",
    "SpikingLSTMCell",
    "SpikingLSTM",
    "SpikingVanillaRNNCell",
    "SpikingVanillaRNN",
    "SpikingGRUCell",
    "SpikingGRU",
]
