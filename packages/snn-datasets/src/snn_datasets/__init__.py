"""snn-datasets: neuromorphic data sets with the SpikingJelly ``datasets`` API.

Port code by changing imports: ``spikingjelly.datasets`` -> ``snn_datasets`` (the
reference's submodule paths such as ``snn_datasets.dvs128_gesture`` are kept).
"""

__version__ = "0.1.0"

# data sets (one module each)
from .asl_dvs import *  # noqa: F403
from .base import *  # noqa: F403
from .bullying10k import *  # noqa: F403
from .cifar10_dvs import *  # noqa: F403
from .dvs128_gesture import *  # noqa: F403
from .dvs_lip import *  # noqa: F403
from .es_imagenet import *  # noqa: F403
from .hardvs import *  # noqa: F403
from .n_caltech101 import *  # noqa: F403
from .n_mnist import *  # noqa: F403
from .nav_gesture import *  # noqa: F403
from .shd import *  # noqa: F403
from .speechcommands import *  # noqa: F403
from .transform import *  # noqa: F403
from .utils import *  # noqa: F403
