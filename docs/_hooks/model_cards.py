"""mkdocs hook: fill the model cards of the zoo page from the snn_zoo registry.

A page containing the line ``<!-- model-cards -->`` gets, in its place, one section per
architecture with a table row per registered variant (``snn_zoo.list_models()``), read from
its card (``snn_zoo.get_pretrained_cfg(name)``), plus the parameter count of the model as
built (constructed on the meta device, so no memory is allocated), and a table of each
variant's preprocessing and head. If ``snn_zoo`` cannot be imported, the registry is empty,
a model cannot be built or a card lacks a required field, the build fails: the cards are
never silently left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mkdocs.exceptions import PluginError

MARKER = "<!-- model-cards -->"
# Fields every card must have for the tables to be complete.
REQUIRED = ("architecture", "paper", "input_size", "T", "num_classes")
_ID_URLS = {"arxiv": "https://arxiv.org/abs/", "doi": "https://doi.org/"}


def _fmt(value: Any) -> str:
    if value is None or value == "" or value == ():
        return "—"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
    if isinstance(value, Sequence) and not isinstance(value, str):
        return "×".join(_fmt(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


def _list(value: Any) -> str:
    if not value:
        return "—"
    items = [value] if isinstance(value, str) else list(value)
    return ", ".join(_fmt(v) for v in items)


def _paper(card: Mapping[str, Any]) -> str:
    """The paper's title, linked to its arXiv / DOI page and code when the card says."""
    links = []
    ids = card.get("paper_ids") or ()
    for pid in [ids] if isinstance(ids, str) else list(ids):
        kind, _, value = str(pid).partition(":")
        url = _ID_URLS.get(kind.lower())
        links.append(f"[{pid}]({url}{value})" if url and value else str(pid))
    code = card.get("origin_url")
    if isinstance(code, str) and code.startswith("https://"):
        links.append(f"[official code]({code})")
    return _fmt(card.get("paper")) + (" — " + ", ".join(links) if links else "")


def _built_params(snn_zoo: Any, name: str) -> float:
    import torch

    try:
        with torch.device("meta"):
            model = snn_zoo.create_model(name)
    except Exception as exc:
        raise PluginError(f"snn_zoo.create_model({name!r}) failed: {exc!r}") from exc
    return sum(p.numel() for p in model.parameters()) / 1e6


def _card(snn_zoo: Any, name: str) -> Mapping[str, Any]:
    get = getattr(snn_zoo, "get_pretrained_cfg", None)
    if get is None:
        raise PluginError("snn_zoo has no get_pretrained_cfg(name); the model cards need it")
    card = get(name)
    if hasattr(card, "to_dict"):  # a timm PretrainedCfg
        card = card.to_dict()
    if not isinstance(card, Mapping):
        raise PluginError(f"snn_zoo.get_pretrained_cfg({name!r}) returned {type(card).__name__}")
    missing = [k for k in REQUIRED if card.get(k) in (None, "")]
    if missing:
        raise PluginError(f"the card of {name!r} lacks {missing}; every card needs {REQUIRED}")
    return card


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def model_cards_markdown() -> str:
    """The Markdown sections and tables of every registered zoo variant."""
    try:
        import snn_zoo
    except Exception as exc:  # the build must fail, not skip the cards
        raise PluginError(
            f"the model cards need snn_zoo, which failed to import: {exc!r} "
            "(install it: pip install ./zoo)"
        ) from exc
    names = list(snn_zoo.list_models())
    if not names:
        raise PluginError("snn_zoo.list_models() is empty: no model cards to show")
    by_arch: dict[str, dict[str, Mapping[str, Any]]] = {}
    for name in names:
        card = _card(snn_zoo, name)
        by_arch.setdefault(str(card["architecture"]), {})[name] = card

    out: list[str] = []
    for arch, cards in by_arch.items():
        papers = list(dict.fromkeys(_paper(c) for c in cards.values()))
        out += [f"### {arch}", "", *(f"{p}  " for p in papers), ""]
        out += [
            "| model | params (M, paper) | params (M, built) | input | T | classes | data set "
            "| reported accuracy (%) |",
            "| --- | ---: | ---: | --- | ---: | ---: | --- | ---: |",
        ]
        for name, card in cards.items():
            out.append(
                _row(
                    [
                        f"`{name}`",
                        _fmt(card.get("params_m")),
                        f"{_built_params(snn_zoo, name):.2f}",
                        _fmt(card.get("input_size")),
                        _fmt(card.get("T")),
                        _fmt(card.get("num_classes")),
                        _fmt(card.get("dataset")),
                        _fmt(card.get("reported_accuracy")),
                    ]
                )
            )
        out.append("")

    out += [
        "### Preprocessing, heads and notes",
        "",
        "What loading a checkpoint or fine-tuning a variant needs to know.",
        "",
        "| model | mean | std | interpolation | crop | first conv | classifier | license | notes |",
        "| --- | --- | --- | --- | ---: | --- | --- | --- | --- |",
    ]
    for cards in by_arch.values():
        for name, card in cards.items():
            out.append(
                _row(
                    [
                        f"`{name}`",
                        _list(card.get("mean")),
                        _list(card.get("std")),
                        _fmt(card.get("interpolation")),
                        _fmt(card.get("crop_pct")),
                        f"`{card['first_conv']}`" if card.get("first_conv") else "—",
                        f"`{card['classifier']}`" if card.get("classifier") else "—",
                        _fmt(card.get("license")),
                        _list(card.get("notes")).replace(", ", "; ") if card.get("notes") else "—",
                    ]
                )
            )
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, model_cards_markdown())
