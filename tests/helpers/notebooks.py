"""Run a notebook in tests: in a real Jupyter kernel (nbclient, as a user's JupyterLab runs it),
then its code cells in-process, so that a test can look at what the notebook computed."""
from __future__ import annotations

import json
from pathlib import Path

KERNEL_TIMEOUT_S = 600


def run_in_kernel(path: Path) -> None:
    """Execute the notebook in a fresh python3 kernel of this environment (ipykernel), in its
    own folder, as `jupyter nbconvert --execute` would; fails naming the cell that raised."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=KERNEL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        raise AssertionError(f"{path.name} failed in a Jupyter kernel: {str(exc)[-2000:]}") from None


def run_notebook(path: Path) -> dict:
    """Execute the notebook in a Jupyter kernel (run_in_kernel), then its code cells in order in
    one namespace here; returns that namespace."""
    run_in_kernel(path)
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
