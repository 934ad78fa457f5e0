"""Pure single- and multi-step functions of neuron dynamics (the neurons call these).

Each file holds one family; import them from :mod:`snn_core.functional`.
"""

from snn_core.functional.neuron_steps.activation_aware import (
    activation_aware_if_multi_step,
    activation_aware_if_step,
)
from snn_core.functional.neuron_steps.clif import clif_step
from snn_core.functional.neuron_steps.cuba import cuba_charge, cuba_lif_step, lava_cuba_lif_step
from snn_core.functional.neuron_steps.gated_lif import gated_lif_step
from snn_core.functional.neuron_steps.ilif import ilif_multi_step, ilif_step
from snn_core.functional.neuron_steps.implementation import neuron_implementation
from snn_core.functional.neuron_steps.integrate_and_fire import if_charge, if_multi_step, if_step
from snn_core.functional.neuron_steps.izhikevich import (
    adaptation_update,
    izhikevich_charge,
    izhikevich_multi_step,
    izhikevich_step,
)
from snn_core.functional.neuron_steps.klif import klif_charge, klif_reset, klif_step
from snn_core.functional.neuron_steps.lif import (
    leaky_charge,
    liaf_step,
    lif_charge,
    lif_multi_step,
    lif_step,
)
from snn_core.functional.neuron_steps.linear import if_linear, lif_linear
from snn_core.functional.neuron_steps.nonlinear_if import (
    eif_charge,
    eif_multi_step,
    eif_step,
    qif_charge,
    qif_multi_step,
    qif_step,
)
from snn_core.functional.neuron_steps.plif import plif_charge, plif_multi_step, plif_step
from snn_core.functional.neuron_steps.psn import masked_psn_step, sliding_psn_step
from snn_core.functional.neuron_steps.raf import raf_step
from snn_core.functional.neuron_steps.reset import voltage_reset
from snn_core.functional.neuron_steps.stbif import stbif_multi_step, stbif_step
from snn_core.functional.neuron_steps.ternary import ternary_if_step, ternary_lif_step

__all__ = [
    "clif_step",
    "raf_step",
    "ilif_step",
    "ilif_multi_step",
    "stbif_step",
    "stbif_multi_step",
    "ternary_if_step",
    "ternary_lif_step",
    "activation_aware_if_step",
    "activation_aware_if_multi_step",
    # the core neurons' steps (reference names), then their charges and building blocks
    "if_step",
    "if_multi_step",
    "lif_charge",
    "lif_step",
    "lif_multi_step",
    "plif_step",
    "plif_multi_step",
    "klif_step",
    "qif_step",
    "qif_multi_step",
    "eif_step",
    "eif_multi_step",
    "izhikevich_step",
    "izhikevich_multi_step",
    "gated_lif_step",
    "cuba_lif_step",
    "lava_cuba_lif_step",
    "liaf_step",
    "masked_psn_step",
    "sliding_psn_step",
    "voltage_reset",
    "if_linear",
    "lif_linear",
    "neuron_implementation",
    "if_charge",
    "leaky_charge",
    "plif_charge",
    "klif_charge",
    "klif_reset",
    "qif_charge",
    "eif_charge",
    "izhikevich_charge",
    "adaptation_update",
    "cuba_charge",
]
