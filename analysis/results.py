"""Results folders of finished runs, for notebooks and reports: the newest run of a config and
its Parquet tables (any scenario)."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

RESULTS_ROOT_ENV = "GENSEMCOM_RESULTS_ROOT"


def results_root() -> Path:
    """The repository's results/, or the folder the environment variable GENSEMCOM_RESULTS_ROOT names."""
    return Path(os.environ.get(RESULTS_ROOT_ENV) or Path(__file__).resolve().parents[1] / "results")


def results_folder(name: str, required: bool = True) -> Path | None:
    """The newest finished run of config `name` (what the notebook loads), under the
    repository's results/ or the folder the environment variable GENSEMCOM_RESULTS_ROOT names;
    None when there is none and not `required`."""
    root = results_root()
    runs = sorted(p for p in (root / name).glob("*") if (p / "summary.json").is_file())
    if runs:
        return runs[-1]
    if required:
        raise FileNotFoundError(f"no finished run of {name!r} under {root}; run ./run.sh configs/{name}.json")
    return None


def campaign_folder(name: str) -> Path:
    """The folder of campaign `name` (its tables: points, units, aggregate), under the results
    root (see results_root)."""
    folder = results_root() / "campaigns" / name
    if not (folder / "points.parquet").is_file():
        raise FileNotFoundError(f"no campaign {name!r} under {results_root()}; run ./run.sh configs/campaigns/{name}.json")
    return folder


def load_parquet(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Every Parquet file of a results folder (not the per-point ones), by file stem."""
    return {p.stem: pd.read_parquet(p) for p in sorted(Path(folder).glob("*.parquet"))}
