"""The reference framework's module paths exist here as aliases of the same objects, the
``quantize`` namespace is one module, and refused step modes say what is allowed."""

import importlib

import pytest
import snn_core
import torch
from snn_core import functional, quantize, surrogate
from snn_core.base import MemoryModule
from torch import nn

# Public names of the reference's modules (its ``__all__`` in SpikingJelly 2.0.0).
_ALIASES = {
    "snn_core.functional.loss": [
        "kernel_dot_product",
        "spike_similar_loss",
        "temporal_efficient_training_cross_entropy",
    ],
    "snn_core.functional.learning": [
        "stdp_linear_step",
        "mstdp_linear_step",
        "mstdpet_linear_step",
        "stdp_conv1d_step",
        "stdp_conv2d_step",
        "mstdpet_reward_step",
    ],
    "snn_core.functional.spike": [
        "bit_spike_compress",
        "bit_spike_decompress",
        "bit_pack_spike_dense",
        "packed_spike_linear",
        "sparse_linear",
        "if_linear",
        "lif_linear",
    ],
    "snn_core.functional.neuron": ["lif_step", "if_step", "voltage_reset", "lif_multi_step"],
}


@pytest.mark.parametrize("path", sorted(_ALIASES))
def test_reference_submodule_paths_reexport_the_functional_objects(path):
    module = importlib.import_module(path)
    for name in _ALIASES[path]:
        assert name in module.__all__
        assert getattr(module, name) is getattr(functional, name), (path, name)


def test_functional_neuron_is_the_imported_submodule():
    module = importlib.import_module("snn_core.functional.neuron")
    assert functional.neuron is module
    assert all(hasattr(module, name) for name in module.__all__)


def test_quantize_is_one_module_at_top_level_and_under_surrogate():
    assert snn_core.quantize is quantize
    assert surrogate.quantize is quantize
    assert importlib.import_module("snn_core.quantize") is quantize
    assert "quantize" in snn_core.__all__


def test_top_level_quantize_rounds_forward_and_passes_gradient_straight_through():
    x = torch.tensor([0.4, 1.6, -2.5, 2.5], requires_grad=True)
    y = quantize.round(x)
    # torch.round rounds half to even: -2.5 -> -2, 2.5 -> 2
    assert torch.equal(y, torch.tensor([0.0, 2.0, -2.0, 2.0]))
    (y * torch.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert torch.equal(x.grad, torch.tensor([1.0, 2.0, 3.0, 4.0]))


class _MultiOnly(MemoryModule):
    def __init__(self):
        super().__init__()
        self.register_memory("v", 0.0)
        self._step_mode = "m"

    def supported_step_mode(self):
        return ("m",)

    def multi_step_forward(self, x_seq):
        return x_seq


def test_set_step_mode_refusal_uses_the_reference_phrase_and_names_the_module():
    net = nn.Sequential(nn.Identity(), _MultiOnly())
    with pytest.raises(ValueError, match=r"step_mode can only be") as info:
        functional.set_step_mode(net, "s")
    assert "1 (_MultiOnly, supports ('m',))" in str(info.value)
    assert net[1].step_mode == "m"


def test_step_mode_setter_refusal_says_what_the_module_allows():
    module = _MultiOnly()
    with pytest.raises(ValueError, match=r"step_mode can only be one of \('m',\).*got 's'"):
        module.step_mode = "s"
    with pytest.raises(ValueError, match=r"step_mode can only be one of \('m',\).*got 'x'"):
        module.step_mode = "x"
