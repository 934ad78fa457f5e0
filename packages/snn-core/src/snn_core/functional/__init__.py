"""Functional helpers: network configuration, forward helpers, losses, online learning, misc.

Import from here (``from snn_core import functional``); the submodules are private.
"""

from snn_core.functional.config import detach_net, reset_net, set_backend, set_step_mode
from snn_core.functional.forward import (
    chunk_multi_step_forward,
    multi_step_forward,
    seq_to_ann_forward,
    t_last_multi_step_forward,
    t_last_seq_to_ann_forward,
)
from snn_core.functional.losses import (
    kernel_dot_product,
    spike_similar_loss,
    temporal_efficient_training_cross_entropy,
)
from snn_core.functional.misc import (
    delay,
    first_spike_index,
    kaiming_normal_conv_linear_weight,
    redundant_one_hot,
    set_threshold_margin,
)
from snn_core.functional.online import (
    fptt_online_training,
    fptt_online_training_init_w_ra,
    ottt_online_training,
)

__all__ = [
    "reset_net",
    "set_step_mode",
    "set_backend",
    "detach_net",
    "multi_step_forward",
    "t_last_multi_step_forward",
    "chunk_multi_step_forward",
    "seq_to_ann_forward",
    "t_last_seq_to_ann_forward",
    "kernel_dot_product",
    "spike_similar_loss",
    "temporal_efficient_training_cross_entropy",
    "fptt_online_training_init_w_ra",
    "fptt_online_training",
    "ottt_online_training",
    "set_threshold_margin",
    "redundant_one_hot",
    "first_spike_index",
    "kaiming_normal_conv_linear_weight",
    "delay",
]
