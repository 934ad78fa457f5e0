"""The examples of the NIR docs page (``docs/nir.md``) run as written.

The site-wide docs test skips them (they need the ``nir`` extra and snnTorch); here they run
in order in one namespace, as a reader would paste them.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("nir")
pytest.importorskip("snntorch")

PAGE = Path(__file__).resolve().parents[3] / "docs" / "nir.md"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


@pytest.mark.skipif(not PAGE.exists(), reason="docs/ is not in this checkout")
def test_nir_page_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the example writes net.nir
    blocks = _BLOCK.findall(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    namespace: dict[str, object] = {"__name__": "__docs_example__"}
    for code in blocks:
        exec(compile(code, str(PAGE), "exec"), namespace)  # running the docs is the point
    assert (tmp_path / "net.nir").exists()
