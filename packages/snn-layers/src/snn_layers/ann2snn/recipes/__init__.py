"""Conversion recipes: the strategy objects that converters run."""

from snn_layers.ann2snn.recipes.base import (
    ConversionRecipe,
    FXConversionRecipe,
    ModuleConversionRecipe,
)
from snn_layers.ann2snn.recipes.local_threshold_balancing import LocalThresholdBalancingRecipe
from snn_layers.ann2snn.recipes.qwen2 import (
    Qwen2SNNCalibration,
    Qwen2SNNConfig,
    Qwen2SNNModel,
    Qwen2SNNRecipe,
    calibrate_qwen2_snn,
)
from snn_layers.ann2snn.recipes.rate_coding import RateCodingRecipe
from snn_layers.ann2snn.recipes.spikezip_qann import SpikeZIPTFQANNRecipe
from snn_layers.ann2snn.recipes.sta_transformer import STATransformerRecipe
from snn_layers.ann2snn.recipes.transformer_td_equivalent import TransformerTDEquivalentRecipe

__all__ = [
    "ConversionRecipe",
    "FXConversionRecipe",
    "ModuleConversionRecipe",
    "LocalThresholdBalancingRecipe",
    "RateCodingRecipe",
    "Qwen2SNNCalibration",
    "Qwen2SNNConfig",
    "Qwen2SNNModel",
    "Qwen2SNNRecipe",
    "calibrate_qwen2_snn",
    "SpikeZIPTFQANNRecipe",
    "STATransformerRecipe",
    "TransformerTDEquivalentRecipe",
]
