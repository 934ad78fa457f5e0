"""Forward hooks that record what a spiking network does: firing rates of every spiking
neuron layer, a spike raster of one sample, and synaptic operations.

Synaptic operations (SOPs) follow the Spikformer paper (Zhou et al., ICLR 2023, §4 and
appendix): a conv / linear layer fed by spikes costs ``fr * MACs`` accumulate operations,
where ``fr`` is the fraction of non-zero inputs; the first layer, fed by real-valued
pixels, costs ``MACs`` multiply-accumulates. Energy: ``E = E_MAC * MAC_first + E_AC * SOPs``
with ``E_MAC = 4.6 pJ`` and ``E_AC = 0.9 pJ`` (45 nm CMOS, Horowitz 2014). Matrix products
inside attention that are not modules (Q·Kᵀ·V) are not counted.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch
from snn_core.op_counter import SimpleEnergyCostConfig
from snn_neurons import SimpleBaseNode
from torch import nn

__all__ = ["SpikeMonitor", "SynapticOpCounter", "E_MAC_PJ", "E_AC_PJ"]

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


def _macs(module: nn.Module, inp: torch.Tensor, out: torch.Tensor) -> float:
    if isinstance(module, nn.Linear):
        return float(out.numel() * module.in_features)
    if isinstance(module, nn.modules.conv._ConvNd):
        k = 1
        for s in module.kernel_size:
            k *= s
        return float(out.numel() * (module.in_channels // module.groups) * k)
    return 0.0


class SynapticOpCounter:
    """Count MACs of the first synaptic layer and spike-driven SOPs of the others."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.mac_first = 0.0
        self.sops = 0.0
        self.samples = 0
        self._first: str | None = None
        self._handles: list[Any] = []

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            x = inputs[0]
            macs = _macs(module, x, output)
            if self._first is None:
                self._first = name
            if name == self._first:
                self.mac_first += macs
            else:
                rate = (x != 0).float().mean().item()
                self.sops += macs * rate

        return hook

    def __enter__(self) -> SynapticOpCounter:
        for name, m in self.model.named_modules():
            if isinstance(m, (nn.Linear, nn.modules.conv._ConvNd)):
                self._handles.append(m.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def per_sample(self) -> dict[str, float]:
        n = max(self.samples, 1)
        mac, sop = self.mac_first / n, self.sops / n
        energy_uj = (E_MAC_PJ * mac + E_AC_PJ * sop) * 1e-6
        return {"mac_first_layer": mac, "sops": sop, "energy_uJ": energy_uj}
