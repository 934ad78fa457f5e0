"""Exchange networks with other frameworks and neuromorphic hardware through NIR.

NIR, the Neuromorphic Intermediate Representation (Pedersen et al., 2024, "Neuromorphic
intermediate representation: A unified instruction set for interoperable brain-inspired
computing", Nature Communications), describes a network as a graph of continuous-time
nodes (``tau dv/dt = (v_leak - v) + r I`` for a LIF). :func:`export_to_nir` writes a
network of this package's layers and neurons as such a graph, :func:`import_from_nir`
builds a network that runs a graph as forward-Euler steps of length ``dt``. Save and load
graphs with ``nir.write(path, graph)`` and ``nir.read(path)``.

Needs the optional extra: ``pip install snn-layers[nir]`` (the packages ``nir`` and
``nirtorch``). ``import snn_layers`` does not import this module.
"""

from __future__ import annotations

try:
    import nir as _nir  # noqa: F401
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "snn_layers.nir needs the package 'nir', which is not installed; install the "
        "optional extra with: pip install snn-layers[nir]"
    ) from err

from snn_layers.nir._export import export_to_nir
from snn_layers.nir._import import import_from_nir

__all__ = ["export_to_nir", "import_from_nir"]
