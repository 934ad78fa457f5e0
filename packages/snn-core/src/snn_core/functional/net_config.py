"""Alias of the network-configuration helpers under the reference's private module name.

Code that reached into ``spikingjelly.activation_based.functional.net_config`` (for example
to inspect ``_RESET_MODULE_CACHE``) keeps working after the import rewrite. New code should
import from :mod:`snn_core.functional`.
"""

from snn_core.functional.config import detach_net, reset_net, set_step_mode
from snn_core.functional.reset_cache import (
    _RESET_MODULE_CACHE,
    collect_reset_modules,
    invalidate_reset_cache,
    reset_collected_modules,
)

__all__ = [
    "collect_reset_modules",
    "detach_net",
    "invalidate_reset_cache",
    "reset_collected_modules",
    "reset_net",
    "set_step_mode",
]

_ = _RESET_MODULE_CACHE  # re-exported on purpose (private name of the reference)
