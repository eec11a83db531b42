"""A campaign's folder, <output_dir>/campaigns/<name>/:

    campaign.json         the campaign as given, and the code version it started with
    points/<id>/          a finished point: an ordinary run folder (config.json, run.log, the
                          scenario's outputs, summary.json) plus point.json (parameters,
                          provenance, wall time). It appears in one rename, so a point killed
                          half-way never looks finished.
    points/.tmp-<id>-*/   a point in flight (removed when the next driver starts)
    failed/<id>.json      the last failure of a point (error, log tail); gone once it succeeds
    logs/worker-<k>.log   what a worker process printed
    points.parquet        one row per point (swept keys, seed, status, metrics, wall time)
    units.parquet         the points' units.parquet rows, with the point's id and parameters
    aggregate.parquet     per parameter combination: replicates, mean and 95 % interval

The tables are rebuilt from the point folders, so they never hold a point twice, whatever
was killed when.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from pathlib import Path

from gensemcom.config import ConfigError
from gensemcom.core.paths import write_atomically

POINT_FILE = "point.json"


class Store:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.points = self.folder / "points"
        self.failed = self.folder / "failed"
        self.logs = self.folder / "logs"

    def create(self) -> None:
        for d in (self.points, self.failed, self.logs):
            d.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def lock(self):
        """One driver per campaign folder at a time."""
        self.create()
        with open(self.folder / ".lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ConfigError(f"campaign error: {self.folder} is in use by another campaign driver") from None
            yield

    def clear_in_flight(self) -> int:
        """Remove the folders of points that were in flight when a driver died."""
        stale = list(self.points.glob(".tmp-*"))
        for d in stale:
            shutil.rmtree(d, ignore_errors=True)
        return len(stale)

    def point_dir(self, point_id: str) -> Path:
        return self.points / point_id

    def tmp_dir(self, point_id: str) -> Path:
        return self.points / f".tmp-{point_id}-{os.getpid()}"

    def is_done(self, point_id: str) -> bool:
        return (self.point_dir(point_id) / POINT_FILE).is_file()

    def finished(self) -> dict[str, dict]:
        """{id: point.json} of every finished point in the folder."""
        out = {}
        for f in sorted(self.points.glob(f"*/{POINT_FILE}")):
            if not f.parent.name.startswith("."):
                out[f.parent.name] = json.loads(f.read_text())
        return out

    def commit(self, tmp: Path, point_id: str) -> Path:
        """The finished point `tmp` becomes points/<id> in one rename."""
        final = self.point_dir(point_id)
        if final.exists():  # finished twice (a rerun raced a previous driver): keep the first
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.replace(tmp, final)
        (self.failed / f"{point_id}.json").unlink(missing_ok=True)
        return final

    def record_failure(self, point_id: str, failure: dict) -> None:
        write_json_atomic(self.failed / f"{point_id}.json", failure)

    def failures(self) -> dict[str, dict]:
        return {f.stem: json.loads(f.read_text()) for f in sorted(self.failed.glob("*.json"))}


def write_json_atomic(path: Path, data) -> None:
    write_atomically(path, lambda f: json.dump(data, f, indent=2, default=str))


def write_parquet_atomic(frame, path: Path) -> None:
    write_atomically(path, lambda f: frame.to_parquet(f, index=False), binary=True)


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
