"""Local plasticity learners (SpikingJelly's ``activation_based.learning``).

A learner watches one synapse (``torch.nn.Linear``, ``Conv1d``, ``Conv2d`` or their
``snn_layers`` wrappers) and the module that emits its post-synaptic spikes, and turns the
spikes into a weight change with :meth:`step`:

>>> import torch, snn_layers, snn_neurons
>>> from snn_layers import learning
>>> fc, sn = snn_layers.Linear(4, 2, bias=False), snn_neurons.IFNode()
>>> learner = learning.STDPLearner("s", fc, sn, tau_pre=2.0, tau_post=2.0)
>>> _ = sn(fc(torch.ones(1, 4)))
>>> learner.step(on_grad=False).shape
torch.Size([2, 4])

``STDPLearner`` (pair-based STDP, single- and multi-step), ``MSTDPLearner`` and
``MSTDPETLearner`` (reward-modulated, Florian 2007). The rules themselves are the pure
steps of :mod:`snn_core.functional.plasticity`; the older module-taking helpers
(``stdp_linear_single_step``, ``stdp_multi_step``, ...) and the reference's submodules
``plasticity`` and ``online_learning`` are here too.
"""

from snn_layers.learning import online_learning, plasticity
from snn_layers.learning.layer_steps import (
    mstdp_linear_single_step,
    mstdpet_linear_single_step,
    stdp_conv1d_single_step,
    stdp_conv2d_single_step,
    stdp_linear_single_step,
    stdp_multi_step,
)
from snn_layers.learning.reward import MSTDPETLearner, MSTDPLearner
from snn_layers.learning.stdp import STDPLearner

__all__ = [
    "plasticity",
    "online_learning",
    "STDPLearner",
    "MSTDPLearner",
    "MSTDPETLearner",
    "stdp_linear_single_step",
    "stdp_conv1d_single_step",
    "stdp_conv2d_single_step",
    "stdp_multi_step",
    "mstdp_linear_single_step",
    "mstdpet_linear_single_step",
]
