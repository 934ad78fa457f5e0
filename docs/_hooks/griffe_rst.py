"""Griffe extension: turn the reST markup of our docstrings into Markdown for mkdocstrings.

The packages write Google-style docstrings with a few reST constructs (as torch does):

- roles ``:class:`~snn_core.base.MemoryModule``` (also ``:func:``, ``:meth:``, ``:attr:``,
  ``:mod:``, ``:data:``, ``:exc:``, ``:obj:``) become cross-references. A fully qualified
  target in one of our packages is a required reference, so a typo or a reference to an
  undocumented name fails ``mkdocs build --strict``; modules (``:mod:``, mostly private
  here) and bare names (``:meth:`reset```, resolved against the enclosing object) are
  optional references, plain code where they do not resolve; anything else
  (``torch.Tensor``) is shown as code;
- ``:math:`x``` becomes inline math ``$x$``;
- a ``.. math::`` block becomes one ``$$ ... $$`` block per blank-line separated equation
  (wrapped in ``aligned`` when it uses ``&`` or ``\\``), rendered by MathJax;
- in an ``Args:`` section, an entry naming several parameters (``eps, momentum: as the
  torch BN.``, ``*args, **kwargs: ...``) becomes one entry per name, and a sentence that is
  no entry (``Other args as :class:`BaseNode`.``) moves to a paragraph after the section.
  Anything else griffe cannot parse (a parameter that is not in the signature) still fails
  the strict build;
- a bare doctest paragraph (``>>>`` lines outside an ``Examples:`` section) becomes a
  ``pycon`` code block instead of nested Markdown quotes.

mkdocs.yml loads this file through the python handler's ``extensions`` option.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

OUR_PACKAGES = ("snn_core", "snn_neurons", "snn_layers", "snn_datasets", "snn_zoo")

_ROLE_RE = re.compile(r":(?:py:)?(class|func|meth|attr|mod|data|exc|obj):`([^`]+)`")
_MATH_ROLE_RE = re.compile(r":math:`([^`]+)`")
_MATH_DIRECTIVE_RE = re.compile(r"^(?P<indent>\s*)\.\. math::\s*(?P<rest>.*)$")


def _context_path(obj: griffe.Object) -> str:
    """The path that bare role targets are resolved against (the class or module)."""
    if obj.is_class or obj.is_module:
        return obj.path
    return obj.parent.path if obj.parent is not None else obj.path


def _role(match: re.Match[str], context: str) -> str:
    kind, target = match.group(1), match.group(2).strip()
    explicit_title = re.fullmatch(r"(.+?)\s*<(.+)>", target)
    if explicit_title:
        title, target = explicit_title.group(1), explicit_title.group(2)
    else:
        short = target.startswith("~")
        target = target.lstrip("~.")
        title = target.rsplit(".", 1)[-1] if short else target
        if kind in ("func", "meth"):
            title += "()"
    code = f"<code>{html.escape(title)}</code>"
    if target.split(".", 1)[0] in OUR_PACKAGES and kind != "mod":
        return f'<autoref identifier="{html.escape(target)}">{code}</autoref>'
    if target.split(".", 1)[0] in OUR_PACKAGES:  # modules: documented only where public
        return f'<autoref identifier="{html.escape(target)}" optional>{code}</autoref>'
    if "." not in target:
        ident = f"{context}.{target}"
        return f'<autoref identifier="{html.escape(ident)}" optional>{code}</autoref>'
    return code


def _math_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _MATH_DIRECTIVE_RE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        body: list[str] = [m.group("rest")] if m.group("rest").strip() else []
        i += 1
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            body.append(lines[i].strip())
            i += 1
        # Give back the blank lines that end the block.
        trailing = 0
        while body and not body[-1]:
            body.pop()
            trailing += 1
        equations: list[list[str]] = [[]]
        for line in body:
            if line:
                equations[-1].append(line)
            elif equations[-1]:
                equations.append([])
        out.append("")
        for eq in (e for e in equations if e):
            tex = "\n".join(eq)
            if "&" in tex or "\\\\" in tex:
                tex = f"\\begin{{aligned}}\n{tex}\n\\end{{aligned}}"
            out.extend([f"{indent}$$", *(f"{indent}{t}" for t in tex.split("\n")), f"{indent}$$"])
            out.append("")
        out.extend([""] * max(trailing - 1, 0))
    return "\n".join(out)


_PARAM_SECTION_RE = re.compile(
    r"^(?P<indent>\s*)(Args|Arguments|Parameters|Params|Keyword Args|Keyword Arguments"
    r"|Other Parameters):\s*$"
)
_NAMES = r"\*{0,2}\w+"
_ENTRY_RE = re.compile(rf"^{_NAMES}(\s*\([^)]*\))?\s*:(\s|$)")
_MULTI_ENTRY_RE = re.compile(
    rf"^(?P<names>{_NAMES}(?:\s*,\s*{_NAMES})+)(?P<type>\s*\([^)]*\))?\s*:(?P<rest>(\s.*)?)$"
)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _param_sections(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _PARAM_SECTION_RE.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        base = len(m.group("indent"))
        body: list[str] = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
            body.append(lines[i])
            i += 1
        trailing: list[str] = []
        while body and not body[-1].strip():
            trailing.append(body.pop())
        if not body:
            out.extend(trailing)
            continue
        item_indent = _indent(next(line for line in body if line.strip()))
        items: list[list[str]] = []
        for line in body:
            if line.strip() and _indent(line) <= item_indent:
                items.append([line])
            elif items:
                items[-1].append(line)
            else:  # over-indented first line: leave the section as it is
                items.append([line])
        entries: list[str] = []
        notes: list[str] = []
        for item in items:
            head = item[0].strip()
            multi = _MULTI_ENTRY_RE.match(head)
            if multi:
                kind, rest = multi.group("type") or "", multi.group("rest")
                for name in re.split(r"\s*,\s*", multi.group("names")):
                    entries.append(f"{' ' * item_indent}{name}{kind}:{rest}")
                    entries.extend(item[1:])
            elif _ENTRY_RE.match(head):
                entries.extend(item)
            else:
                notes.append(" ".join(line.strip() for line in item if line.strip()))
        out.extend(entries)
        if notes:
            out.append("")
            out.extend(f"{' ' * base}{note}" for note in notes)
            if not trailing:
                out.append("")
        out.extend(trailing)
    return "\n".join(out)


def _doctest_paragraphs(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(">>>"):
            out.append(lines[i])
            i += 1
            continue
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(lines[i])
            i += 1
        out += ["```pycon", *block, "```"]
    return "\n".join(out)


def rst_to_markdown(text: str, context: str) -> str:
    """Convert the reST roles and math of one docstring (see the module docstring)."""
    text = _doctest_paragraphs(text)
    text = _param_sections(text)
    text = _math_blocks(text)
    text = _MATH_ROLE_RE.sub(lambda m: f"${m.group(1).strip()}$", text)
    return _ROLE_RE.sub(lambda m: _role(m, context), text)


class RstToMarkdown(griffe.Extension):
    """Rewrite every docstring once, when griffe creates its object."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_markdown(obj.docstring.value, _context_path(obj))
