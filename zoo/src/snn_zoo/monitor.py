"""Forward hooks that record what a spiking network does: firing rates of every spiking
neuron layer and a spike raster of one sample. Operations and energy are counted by
:mod:`snn_core.op_counter` (``estimate_paper_energy``); ``E_MAC_PJ`` / ``E_AC_PJ`` are its
fp32 constants (45 nm CMOS, Horowitz 2014).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from snn_core.op_counter import SimpleEnergyCostConfig
from snn_neurons import SimpleBaseNode
from torch import nn

__all__ = ["SpikeMonitor", "E_MAC_PJ", "E_AC_PJ"]

# the papers' 45 nm fp32 energies, as snn_core.op_counter defines them (one definition)
E_MAC_PJ = SimpleEnergyCostConfig.fp32().e_mac_pj
E_AC_PJ = SimpleEnergyCostConfig.fp32().e_ac_pj


def _spiking_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, SimpleBaseNode)]


class SpikeMonitor:
    """Record the mean firing rate of every spiking neuron layer (and one sample's spikes).

    Use as a context manager around forward passes; ``rates()`` gives ``{layer: rate}``
    averaged over the batches seen; ``raster`` holds ``{layer: [T, neurons]}`` of sample 0
    of the last batch when ``keep_raster=True``.
    """

    def __init__(self, model: nn.Module, keep_raster: bool = False, max_neurons: int = 256) -> None:
        self.model = model
        self.keep_raster = keep_raster
        self.max_neurons = max_neurons
        self._sum: dict[str, float] = defaultdict(float)
        self._count: dict[str, int] = defaultdict(int)
        self.raster: dict[str, torch.Tensor] = {}
        self._handles: list[Any] = []

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            out = output[0] if isinstance(output, (tuple, list)) else output
            if not isinstance(out, torch.Tensor):
                return
            out = out.detach()
            self._sum[name] += out.float().mean().item()
            self._count[name] += 1
            if self.keep_raster and out.dim() >= 3 and getattr(module, "step_mode", "s") == "m":
                self.raster[name] = out[:, 0].reshape(out.shape[0], -1)[:, : self.max_neurons].cpu()

        return hook

    def __enter__(self) -> SpikeMonitor:
        for name, module in _spiking_layers(self.model):
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def rates(self) -> dict[str, float]:
        return {k: self._sum[k] / self._count[k] for k in self._sum}
