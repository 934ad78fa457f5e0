"""The reference framework's import path ``functional.neuron``: the functional neuron steps.

They live in :mod:`snn_core.functional.neuron_steps`; this module re-exports its public
names, so ``snn_core.functional.neuron.lif_step is snn_core.functional.lif_step``.
"""

from snn_core.functional.neuron_steps import *  # noqa: F403 (a re-export by design)
from snn_core.functional.neuron_steps import __all__ as __all__
