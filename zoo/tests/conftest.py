"""Shared settings of the zoo tests.

The tests build many small models with many tensor shapes. Two process-wide settings keep
the suite within a few CPU minutes on a shared machine: one intra-op thread (tiny tensors
only lose from threading) and the neurons' fused path run eagerly
(``snn_neurons.fused.settings.compile = False``), since compiling every new shape would
dominate the time; the neuron package's own tests check that both paths agree.
"""

from __future__ import annotations

import pytest
import snn_neurons.fused
import torch


@pytest.fixture(autouse=True, scope="session")
def _fast_cpu_settings():
    threads = torch.get_num_threads()
    compile_flag = snn_neurons.fused.settings.compile
    torch.set_num_threads(1)
    snn_neurons.fused.settings.compile = False
    yield
    torch.set_num_threads(threads)
    snn_neurons.fused.settings.compile = compile_flag
