"""Regenerate the name table of ``docs/migration.md``: each public 2.0.0 name and where it lives.

Needs both the reference (``pip install spikingjelly==2.0.0``) and our packages in one
environment. Rewrites the block between the ``<!-- names:begin -->`` / ``<!-- names:end -->``
markers; ``tests/test_migration_table.py`` checks that every name the table lists resolves.

    python tools/migration_table.py
"""

from __future__ import annotations

import importlib
import inspect
import re
import types
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "migration.md"
# reference namespace -> where a user's ``import`` of it points here; a namespace is
# ``spikingjelly.activation_based.<name>`` unless REFERENCE_MODULES names another module
NAMESPACES = {
    "base": "snn_core.base",
    "surrogate": "snn_core.surrogate",
    "functional": "snn_core.functional",
    "encoding": "snn_core.encoding",
    "monitor": "snn_core.monitor",
    "neuron": "snn_neurons",
    "layer": "snn_layers",
    "learning": "snn_layers.learning",
    "rnn": "snn_layers.rnn",
    "op_counter": "snn_core.op_counter",
    "ann2snn": "snn_layers.ann2snn",
    "visualizing": "snn_core.visualizing",
    "datasets": "snn_datasets",
    "model": "snn_zoo.models",
    **{
        f"model.{sub}": f"snn_zoo.models.{sub}"
        for sub in (
            "spikformer",
            "qkformer",
            "spike_driven_transformer",
            "ms_resnet",
            "masnn",
            "maxformer",
            "sew_resnet",
            "spiking_resnet",
            "spiking_vgg",
            "spiking_vggws_ottt",
            "parametric_lif_net",
            "spike_dhs",
            "snas_net",
        )
    },
}
REFERENCE_MODULES = {
    "datasets": "spikingjelly.datasets",
    "visualizing": "spikingjelly.visualizing",
}


def public_names(namespace: str) -> list[str]:
    """The reference namespace's public classes and functions (re-exported modules and
    typing helpers left out)."""
    reference = REFERENCE_MODULES.get(namespace, f"spikingjelly.activation_based.{namespace}")
    mod = importlib.import_module(reference)
    if namespace.startswith("model"):  # the model modules state their public names
        return sorted(mod.__all__)
    names = []
    for name in dir(mod):
        obj = getattr(mod, name)
        if name.startswith("_") or isinstance(obj, types.ModuleType):
            continue
        owner = getattr(obj, "__module__", "") or ""
        if not owner.startswith("spikingjelly"):
            continue  # torch / typing / stdlib objects imported into the namespace
        if inspect.isclass(obj) or callable(obj):
            names.append(name)
    return sorted(names)


def table() -> str:
    rows = ["| reference (`spikingjelly.activation_based`) | here |", "| --- | --- |"]
    missing = []
    for ns, ours in NAMESPACES.items():
        here = importlib.import_module(ours)
        for name in public_names(ns):
            if hasattr(here, name):
                rows.append(f"| `{ns}.{name}` | `{ours}.{name}` |")
            else:
                missing.append(f"{ns}.{name}")
    if missing:
        rows.append("")
        rows.append("Not provided: " + ", ".join(f"`{m}`" for m in missing) + ".")
    return "\n".join(rows)


def main() -> None:
    text = DOC.read_text()
    new = re.sub(
        r"(<!-- names:begin -->\n).*?(<!-- names:end -->)",
        lambda m: m.group(1) + table() + "\n" + m.group(2),
        text,
        flags=re.S,
    )
    if new == text and "<!-- names:begin -->" not in text:
        raise SystemExit(f"{DOC}: no <!-- names:begin --> / <!-- names:end --> markers")
    DOC.write_text(new)


if __name__ == "__main__":
    main()
