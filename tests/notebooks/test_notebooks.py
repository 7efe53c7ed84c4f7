"""The notebooks in notebooks/: committed without outputs, and each runs clean on a demo county.

Every notebook is executed top to bottom by nbclient in a real IPython kernel
against one freshly built demo county (``TWIN_DEMO_DIR``); any error in any cell
fails the test. Each must draw at least one figure.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXPECTED = [
    "01_quickstart",
    "02_coverage_what_if",
    "03_roads_network",
    "04_villages_dashboard",
    "05_bring_your_own_data",
]
# One notebook may take up to two minutes on a shared two-core machine; allow some slack.
CELL_TIMEOUT_S = 300


def _ids() -> list[str]:
    return [p.stem for p in NOTEBOOKS]


def test_the_five_notebooks_exist() -> None:
    present = [p.stem for p in NOTEBOOKS]
    missing = [n for n in EXPECTED if n not in present]
    assert not missing, f"missing notebooks: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids())
def test_committed_notebook_has_no_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {i} has outputs; strip them"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"
    assert "widgets" not in nb.metadata, f"{path.name}: widget state in the metadata"


def test_readme_links_every_notebook() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- section:notebook -->", 1)[1].split("<!-- section:", 1)[0]
    for path in NOTEBOOKS:
        link = re.search(rf"\]\(notebooks/{re.escape(path.name)}\)[^\n]*\S", section)
        assert link, f"README's notebook section does not link {path.name} with a description"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids())
def test_notebook_runs_clean(
    path: Path, demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nbclient import NotebookClient

    # The kernel inherits this process's environment.
    monkeypatch.setenv("TWIN_DEMO_DIR", str(demo_dir))
    monkeypatch.setenv("TWIN_NOTEBOOK_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the cell on any error
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.1f} s")
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert figures, f"{path.name} draws no figure"
    stray = [
        o["text"]
        for o in outputs
        if o.get("output_type") == "stream" and o.get("name") == "stderr" and "Warning" in o["text"]
    ]
    assert not stray, f"{path.name} printed warnings: {stray[0][:300]}"
