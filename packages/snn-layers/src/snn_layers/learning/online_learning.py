"""The reference framework's module path ``learning.online_learning``: FPTT and OTTT
training loops, defined once in :mod:`snn_core.functional.online`."""

from snn_core.functional.online import (
    fptt_online_training,
    fptt_online_training_init_w_ra,
    ottt_online_training,
)

__all__ = ["fptt_online_training_init_w_ra", "fptt_online_training", "ottt_online_training"]
