"""The notebook runner of the tests uses a real Jupyter kernel: a failing cell fails the test
with the cell's error, and the kernel sees the test's environment (results folders)."""
from __future__ import annotations

import json

import pytest
from helpers.notebooks import run_in_kernel


def _notebook(path, *sources):
    cells = [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": None, "outputs": [],
              "source": [src]} for i, src in enumerate(sources)]
    path.write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}}))
    return path


def test_a_failing_cell_fails_with_its_error(tmp_path):
    nb = _notebook(tmp_path / "bad.ipynb", "x = 1", "x / 0")
    with pytest.raises(AssertionError, match="ZeroDivisionError"):
        run_in_kernel(nb)


def test_the_kernel_sees_the_environment_and_this_venv(tmp_path, monkeypatch):
    monkeypatch.setenv("GENSEMCOM_RESULTS_ROOT", str(tmp_path))
    nb = _notebook(tmp_path / "ok.ipynb",
                   "import os, sys\nfrom gensemcom.analysis import results",
                   f"assert os.environ['GENSEMCOM_RESULTS_ROOT'] == {str(tmp_path)!r}\n"
                   f"assert str(results.results_root()) == {str(tmp_path)!r}")
    run_in_kernel(nb)
