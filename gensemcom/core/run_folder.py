"""The folder of one run: results/<name>/<UTC timestamp>/ with the resolved config and run.log."""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timezone
from pathlib import Path

from gensemcom.core.paths import REPO_ROOT

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def create(cfg, out: Path | None = None) -> Path:
    """A new results/<name>/<timestamp>[-k]/ folder (or `out`) holding config.json
    (Config.resolved_json)."""
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(cfg.resolved_json())
        return out
    root = Path(cfg.output_dir)
    if not root.is_absolute():
        root = REPO_ROOT / root
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    out = root / cfg.name / stamp
    suffix = 1
    while out.exists():
        suffix += 1
        out = root / cfg.name / f"{stamp}-{suffix}"
    out.mkdir(parents=True)
    (out / "config.json").write_text(cfg.resolved_json())
    return out


@contextlib.contextmanager
def run_log(out: Path):
    """Everything logged while the block runs also goes to out/run.log; the handler is removed
    however the block ends (a second run in the same process must not write into this one)."""
    handler = logging.FileHandler(Path(out) / "run.log")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()


def configure_logging() -> None:
    """The console: warnings of every library, progress messages (INFO) of gensemcom."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("gensemcom").setLevel(logging.INFO)
