"""snn-core: step modes, stateful modules, surrogate gradients and functional helpers."""

from snn_core import (
    anomaly,
    base,
    encoding,
    functional,
    monitor,
    op_counter,
    quantize,
    surrogate,
    visualizing,
)
from snn_core.base import MemoryModule, MultiStepModule, SingleStepModule, StepModule

__version__ = "0.1.0"

__all__ = [
    "anomaly",
    "base",
    "functional",
    "surrogate",
    "encoding",
    "monitor",
    "op_counter",
    "quantize",
    "visualizing",
    "StepModule",
    "SingleStepModule",
    "MultiStepModule",
    "MemoryModule",
    "__version__",
]
