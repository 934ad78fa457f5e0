"""ANN-to-SNN conversion, the SpikingJelly ``activation_based.ann2snn`` API.

``Converter(recipe).convert(ann)`` traces a trained ReLU network with ``torch.fx`` and lets
the recipe calibrate and replace its activations::

    from snn_layers.ann2snn import Converter, RateCodingRecipe
    snn = Converter(RateCodingRecipe(calib_loader, mode="99.9%")).convert(ann)
    functional.set_step_mode(snn, "m")       # or run it step by step in 's' mode
    y = snn(x.unsqueeze(0).repeat(T, 1, 1, 1, 1)).mean(0)

See docs/ann2snn.md for the recipes, what converts and what is refused.
"""

from snn_layers.ann2snn.converter import Converter, FXConverter, ModuleConverter
from snn_layers.ann2snn.delay import estimate_delay_start
from snn_layers.ann2snn.modules import ChannelVoltageScaler
from snn_layers.ann2snn.neuron_factory import NeuronFactory
from snn_layers.ann2snn.qcfs import SignedQCFSSequenceEncoder
from snn_layers.ann2snn.recipes import (
    ConversionRecipe,
    FXConversionRecipe,
    LocalThresholdBalancingRecipe,
    ModuleConversionRecipe,
    Qwen2SNNCalibration,
    Qwen2SNNConfig,
    Qwen2SNNModel,
    Qwen2SNNRecipe,
    RateCodingRecipe,
    SpikeZIPTFQANNRecipe,
    STATransformerRecipe,
    TransformerTDEquivalentRecipe,
    calibrate_qwen2_snn,
)
from snn_layers.ann2snn.utils import download_url

__all__ = [
    "Converter",
    "FXConverter",
    "ModuleConverter",
    "ConversionRecipe",
    "FXConversionRecipe",
    "ModuleConversionRecipe",
    "Qwen2SNNCalibration",
    "Qwen2SNNConfig",
    "Qwen2SNNModel",
    "Qwen2SNNRecipe",
    "calibrate_qwen2_snn",
    "RateCodingRecipe",
    "LocalThresholdBalancingRecipe",
    "SpikeZIPTFQANNRecipe",
    "STATransformerRecipe",
    "TransformerTDEquivalentRecipe",
    "ChannelVoltageScaler",
    "NeuronFactory",
    "estimate_delay_start",
    "SignedQCFSSequenceEncoder",
    "download_url",
]
