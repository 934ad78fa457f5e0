"""The code examples of the documentation run as written.

- Every fenced ```` ```python ```` block of ``docs/**/*.md`` is executed. The blocks of one
  page run in order in one namespace, as a reader would paste them; each page starts fresh.
  A block right after the line ``<!-- docs-test: skip -->`` is not run (kept for code that
  needs a GPU or shows another library); ```` ```bash ```` and other blocks are not Python.
- Every ``>>>`` example in the docstrings of the four packages runs through ``doctest``.
"""

from __future__ import annotations

import doctest
import importlib
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP_MARK = "<!-- docs-test: skip -->"
PACKAGES = ("snn_core", "snn_neurons", "snn_layers", "snn_zoo")

_FENCE_RE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the first code line
    info: str
    code: str
    skipped: bool


def extract_blocks(page: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, with their language and position."""
    lines = page.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, info = len(m.group("indent")), m.group("fence"), m.group("info").strip()
        prev = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        body: list[str] = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence[0] * len(fence))
            and not lines[i].strip().strip(fence[0])
        ):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            i += 1
        start = i - len(body) + 1
        blocks.append(Block(page, start, info, "\n".join(body) + "\n", prev == SKIP_MARK))
        i += 1
    return blocks


def _language(info: str) -> str:
    return info.split()[0].lstrip(".{").lower() if info else ""


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)


def _python_blocks(page: Path) -> list[Block]:
    return [b for b in extract_blocks(page) if _language(b.info) in ("python", "py")]


PAGES_WITH_CODE = [p for p in _pages() if any(not b.skipped for b in _python_blocks(p))]


def test_extractor_finds_blocks_and_skip_marks(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "text\n\n```python\nx = 1\n```\n\n<!-- docs-test: skip -->\n```python\ngpu()\n```\n\n"
        '```bash\nls\n```\n\n- item\n\n    ```python title="t.py"\n    y = 2\n    ```\n',
        encoding="utf-8",
    )
    blocks = extract_blocks(page)
    assert [(_language(b.info), b.code, b.skipped, b.line) for b in blocks] == [
        ("python", "x = 1\n", False, 4),
        ("python", "gpu()\n", True, 9),
        ("bash", "ls\n", False, 13),
        ("python", "y = 2\n", False, 19),
    ]


def test_the_docs_have_runnable_examples() -> None:
    runnable = [b for p in PAGES_WITH_CODE for b in _python_blocks(p) if not b.skipped]
    assert len(runnable) >= 15, [str(p.relative_to(ROOT)) for p in PAGES_WITH_CODE]


@pytest.mark.parametrize(
    "page", PAGES_WITH_CODE, ids=[str(p.relative_to(DOCS)) for p in PAGES_WITH_CODE]
)
def test_page_examples_run(page: Path) -> None:
    torch.manual_seed(0)
    namespace: dict[str, object] = {"__name__": "__docs_example__"}
    for block in _python_blocks(page):
        if block.skipped:
            continue
        # Pad so that tracebacks point at the line of the Markdown page.
        code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
        exec(code, namespace)  # running the documentation is the point


def _doctest_cases() -> list[doctest.DocTest]:
    for name in PACKAGES:
        importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    cases = []
    for mod_name in sorted(sys.modules):
        if mod_name.split(".", 1)[0] not in PACKAGES:
            continue
        module = sys.modules[mod_name]
        cases += [t for t in finder.find(module, mod_name) if t.examples]
    return cases


DOCTESTS = _doctest_cases()


@pytest.mark.parametrize("case", DOCTESTS, ids=[t.name for t in DOCTESTS])
def test_docstring_examples_run(case: doctest.DocTest) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    torch.manual_seed(0)
    result = runner.run(case, out=lambda s: sys.stdout.write(s))
    assert result.failed == 0, f"{result.failed} failing example(s) in {case.name}, see above"
