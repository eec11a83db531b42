"""Run a notebook headless in tests (no Jupyter kernel in the venv)."""
from __future__ import annotations

import json
from pathlib import Path


def run_notebook(path: Path) -> dict:
    """Execute a notebook's code cells in order in one namespace (what nbconvert --execute
    does, without a kernel); returns the namespace."""
    nb = json.loads(path.read_text())
    ns: dict = {"__name__": "__main__"}
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        code = "".join(cell["source"])
        try:
            exec(compile(code, f"{path.name} code cell {i}", "exec"), ns)
        except Exception as exc:  # noqa: BLE001 - say which cell
            raise AssertionError(f"{path.name} code cell {i} failed: {type(exc).__name__}: {exc}") from exc
    import matplotlib.pyplot as plt
    plt.close("all")
    return ns


def clean_notebook_cells(path: Path) -> list[dict]:
    """Assert the notebook is nbformat 4 with unique cell ids and stored without outputs;
    returns its cells."""
    nb = json.loads(path.read_text())
    assert nb["nbformat"] == 4 and nb["nbformat_minor"] >= 4 and "kernelspec" in nb["metadata"]
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids)
    for cell in nb["cells"]:
        assert cell["cell_type"] in ("code", "markdown") and isinstance(cell["source"], list)
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None   # stored without outputs
    return nb["cells"]
