"""SNASNet, the reference's ``activation_based.model.snas_net`` namespace.

Kim et al., "Neural Architecture Search for Spiking Neural Networks", ECCV 2022. A static
image goes through a convolutional stem once; then, for each of ``args.timestep`` steps,
two searched cells (a 4-node DAG whose edges ``con_mat[row, col]`` are chosen operations),
a spiking down-convolution, a classifier with ``num_final_neuron`` outputs and an average
over groups of ``num_cluster`` outputs ("boost") give the per-step class scores; the output
is their mean over time. The ``'backward'`` cell also feeds each node's output back to the
earlier nodes at the next step (through the lower triangle of ``con_mat``).

Edge operations (``con_mat`` entries): 0 zero, 1 identity, 2 LIF -> 1x1 conv -> BN,
3 LIF -> 3x3 conv -> BN, 4 3x3 average pool. Every neuron is a single-step
:class:`snn_neurons.LIFNode` (``tau = args.tau``, ``V_th = args.threshold``, hard reset to
0, ATan surrogate, detached reset). As in the reference, the neuron state and the dropout
mask are kept between forward calls (the cells' feedback is cleared): call
``snn_core.functional.reset_net(net)`` before each new batch.
"""

from __future__ import annotations

from typing import Any

import snn_layers as layer
import torch
from snn_core import surrogate
from snn_neurons import LIFNode
from torch import nn

__all__ = ["SNASNet"]

#: per data set: classes, classifier outputs, outputs averaged per class, input channels,
#: image size, stem channels, channel ratio, image-size divisor (times second_avgpooling),
#: classifier hidden width, stem stride
_DATASETS: dict[str, tuple[int, int, int, int, int, int, int, int, int, int]] = {
    "cifar10": (10, 100, 10, 3, 32, 128, 2, 2, 1024, 1),
    "cifar100": (100, 500, 5, 3, 32, 128, 1, 2, 1024, 1),
    "tinyimagenet": (200, 1000, 5, 3, 64, 128, 1, 4, 4096, 2),
}
_CELLTYPES = ("forward", "backward")
_OPS = {0: "zero", 1: "identity", 2: "LIF-conv1x1-BN", 3: "LIF-conv3x3-BN", 4: "avgpool3x3"}


def _lif(args: Any) -> LIFNode:
    return LIFNode(
        v_threshold=args.threshold,
        v_reset=0.0,
        tau=args.tau,
        surrogate_function=surrogate.ATan(),
        detach_reset=True,
    )


class ScaleLayer(nn.Module):
    """The zero operation: ``x * 0`` (keeps NaN/inf propagation as a multiplication)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor(0.0), persistent=False)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        return input * self.scale


def _edge(op: Any, args: Any, in_channel: int, out_channel: int, where: str) -> nn.Module:
    code = int(op) if not isinstance(op, bool) else -1
    if code != op or code not in _OPS:
        raise ValueError(f"con_mat{where} must be one of {_OPS}, got {op!r}")
    if code == 0:
        return ScaleLayer()
    if code == 1:
        return nn.Identity()
    if code == 4:
        return nn.AvgPool2d(kernel_size=3, stride=1, padding=1)
    k = 1 if code == 2 else 3
    return nn.Sequential(
        _lif(args),
        nn.Conv2d(
            in_channel, out_channel, kernel_size=(k, k), padding=(k // 2, k // 2), bias=False
        ),
        nn.BatchNorm2d(out_channel),
    )


class Neuronal_Cell(nn.Module):
    """Searched cell: nodes ``x1 = e01(x)``, ``x2 = e02(x) + e12(x1)``,
    ``x3 = e03(x) + e13(x1) + e23(x2)``; returns ``x3``. ``e_rc`` is the operation
    ``con_mat[r, c]``; ``cell_architecture`` lists them column by column."""

    def __init__(self, args: Any, in_channel: int, out_channel: int, con_mat: Any) -> None:
        super().__init__()
        self.con_mat = con_mat
        self.cell_architecture = nn.ModuleList(
            _edge(con_mat[r, c], args, in_channel, out_channel, f"[{r}, {c}]")
            for c in range(1, 4)
            for r in range(c)
        )

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        e = self.cell_architecture
        x_1 = e[0](x_in)
        x_2 = e[1](x_in) + e[2](x_1)
        return e[3](x_in) + e[4](x_1) + e[5](x_2)


class Neuronal_Cell_backward(Neuronal_Cell):
    """:class:`Neuronal_Cell` with feedback: each node's input adds what the later nodes
    sent back at the previous step through the operations ``con_mat[r, c]``, ``r > c``
    (``cell_architecture_back``, row by row per column). ``last_xin``, ``last_x1``,
    ``last_x2`` hold the feedback (``0.0`` after :meth:`SNASNet.neuron_init`)."""

    def __init__(self, args: Any, in_channel: int, out_channel: int, con_mat: Any) -> None:
        super().__init__(args, in_channel, out_channel, con_mat)
        self.cell_architecture_back = nn.ModuleList(
            _edge(con_mat[r, c], args, in_channel, out_channel, f"[{r}, {c}]")
            for c in range(3)
            for r in range(c + 1, 4)
        )
        self.last_xin: Any = 0.0
        self.last_x1: Any = 0.0
        self.last_x2: Any = 0.0

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        e, back = self.cell_architecture, self.cell_architecture_back
        x_in_fb = x_in + self.last_xin
        x_1 = e[0](x_in_fb)
        x_1_fb = x_1 + self.last_x1
        x_2 = e[1](x_in_fb) + e[2](x_1_fb)
        x_2_fb = x_2 + self.last_x2
        x_3 = e[3](x_in_fb) + e[4](x_1_fb) + e[5](x_2_fb)
        self.last_xin = back[0](x_1_fb) + back[1](x_2_fb) + back[2](x_3)
        self.last_x1 = back[3](x_2_fb) + back[4](x_3)
        self.last_x2 = back[5](x_3)
        return x_3


def _arg(args: Any, name: str) -> Any:
    if not hasattr(args, name):
        raise ValueError(
            f"SNASNet: args must have the attribute {name!r} (args needs dataset, celltype, "
            f"timestep, second_avgpooling, threshold, tau), got {args!r}"
        )
    return getattr(args, name)


class SNASNet(nn.Module):
    """SNASNet (Kim et al., ECCV 2022).

    Args:
        args: a namespace with ``dataset`` (``'cifar10'``, ``'cifar100'`` or
            ``'tinyimagenet'``), ``celltype`` (``'forward'`` or ``'backward'``),
            ``timestep`` (T), ``second_avgpooling`` (the last pool's size), ``threshold``
            and ``tau`` (of every LIF neuron).
        con_mat: ``[4, 4]`` array of edge operations (see the module docstring); the upper
            triangle is the forward DAG, the lower one the feedback of ``'backward'`` cells.

    Input ``[N, 3, H, W]``; output ``[N, num_class]``, the time-averaged scores.
    """

    def __init__(self, args: Any, con_mat: Any) -> None:
        super().__init__()
        dataset = _arg(args, "dataset")
        celltype = _arg(args, "celltype")
        if dataset not in _DATASETS:
            raise ValueError(f"args.dataset must be one of {tuple(_DATASETS)}, got {dataset!r}")
        if celltype not in _CELLTYPES:
            raise ValueError(f"args.celltype must be one of {_CELLTYPES}, got {celltype!r}")
        for name in ("timestep", "second_avgpooling", "threshold", "tau"):
            _arg(args, name)
        shape = tuple(getattr(con_mat, "shape", ()))
        if len(shape) != 2 or shape[0] < 4 or shape[1] < 4:
            raise ValueError(f"con_mat must be a [4, 4] array of edge operations, got {con_mat!r}")
        self.con_mat = con_mat
        self.total_timestep = args.timestep
        self.second_avgpooling = args.second_avgpooling
        (
            self.num_class,
            self.num_final_neuron,
            self.num_cluster,
            self.in_channel,
            self.img_size,
            self.first_out_channel,
            self.channel_ratio,
            decay,
            self.classifier_inter_ch,
            self.stem_stride,
        ) = _DATASETS[dataset]
        self.spatial_decay = decay * self.second_avgpooling
        c1 = self.first_out_channel * self.channel_ratio
        c2 = 256 * self.channel_ratio
        cell = Neuronal_Cell if celltype == "forward" else Neuronal_Cell_backward

        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channel, c1, 3, stride=self.stem_stride, padding=1, bias=False),
            nn.BatchNorm2d(c1),
        )
        self.cell1 = cell(args, c1, c1, con_mat)
        self.downconv1 = nn.Sequential(
            nn.BatchNorm2d(128 * self.channel_ratio),
            _lif(args),
            nn.Conv2d(128 * self.channel_ratio, c2, kernel_size=(3, 3), padding=(1, 1), bias=False),
            nn.BatchNorm2d(c2),
        )
        self.resdownsample1 = nn.AvgPool2d(2, 2)
        self.cell2 = cell(args, c2, c2, con_mat)
        self.last_act = nn.Sequential(nn.BatchNorm2d(c2), _lif(args))
        self.resdownsample2 = nn.AvgPool2d(self.second_avgpooling, self.second_avgpooling)
        side = self.img_size // self.spatial_decay
        self.classifier = nn.Sequential(
            layer.Dropout(0.5),
            nn.Linear(c2 * side * side, self.classifier_inter_ch, bias=False),
            _lif(args),
            nn.Linear(self.classifier_inter_ch, self.num_final_neuron, bias=True),
        )
        self.boost = nn.AvgPool1d(self.num_cluster, self.num_cluster)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=2)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor) or input.dim() != 4:
            got = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
            raise ValueError(f"SNASNet: input must be an image batch [N, C, H, W], got {got}")
        if input.shape[1] != self.in_channel:
            raise ValueError(
                f"SNASNet: input must have {self.in_channel} channels, got shape "
                f"{tuple(input.shape)}"
            )
        self.neuron_init()
        batch_size = input.size(0)
        static_x = self.stem(input)
        acc_voltage: Any = 0
        for _ in range(self.total_timestep):
            x = self.cell1(static_x)
            x = self.resdownsample1(self.downconv1(x))
            x = self.resdownsample2(self.last_act(self.cell2(x)))
            x = self.classifier(x.view(batch_size, -1))
            acc_voltage = acc_voltage + self.boost(x.unsqueeze(1)).squeeze(1)
        return acc_voltage / self.total_timestep

    def neuron_init(self) -> None:
        """Clear the cells' feedback (``last_xin``, ``last_x1``, ``last_x2``)."""
        for cell in (self.cell1, self.cell2):
            cell.last_xin = 0.0
            cell.last_x1 = 0.0
            cell.last_x2 = 0.0
