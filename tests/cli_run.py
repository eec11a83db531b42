"""Run `python -m gensemcom run CONFIG` as a user would, for the end-to-end tests."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(config: Path, env_extra: dict | None = None, timeout: int = 600) -> tuple[Path, str]:
    """(results folder, stdout) of a successful run; fails the test with the run's stderr."""
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("results: ")]
    assert line, proc.stdout
    return Path(line[-1].removeprefix("results: ")), proc.stdout
