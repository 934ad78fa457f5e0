"""snn-zoo: Spikformer, QKFormer and MA-SNN with a timm-style registry.

>>> import snn_zoo
>>> model = snn_zoo.create_model("spikformer_digits")   # or 'spikformer', 'qkformer', 'masnn'
>>> snn_zoo.list_models("qkformer_10*")
['qkformer_10_384', 'qkformer_10_512', 'qkformer_10_768']

Each architecture is one file in ``snn_zoo/families/``. Importing ``snn_zoo`` registers every
variant with timm when timm can be imported (``pip install snn-zoo[timm]``), so that
``timm.create_model('spikformer_8_384', ...)`` works too.
"""

from snn_zoo import families  # noqa: F401  (registers the variants)
from snn_zoo._base import SpikingClassifier
from snn_zoo._blocks import DropPath, trunc_normal_
from snn_zoo._checkpoint import load_checkpoint, load_state_dict_file, save_checkpoint
from snn_zoo._registry import (
    create_model,
    get_pretrained_cfg,
    list_architectures,
    list_models,
)
from snn_zoo._timm import register_with_timm

__version__ = "0.1.0"

TIMM_REGISTERED: bool = register_with_timm()
"""Whether the variants were registered with timm at import (``False`` without timm)."""

__all__ = [
    "create_model",
    "list_models",
    "list_architectures",
    "get_pretrained_cfg",
    "load_checkpoint",
    "load_state_dict_file",
    "save_checkpoint",
    "register_with_timm",
    "SpikingClassifier",
    "DropPath",
    "trunc_normal_",
    "TIMM_REGISTERED",
    "__version__",
]
