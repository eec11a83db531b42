"""Run `python -m gensemcom run CONFIG` as a user would, for the end-to-end tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _merge(into: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def config_variant(base: str, path: Path, **changes) -> Path:
    """configs/<base> with `changes` merged in (sections key by key, nested sections too),
    written to `path`, which is returned."""
    data = json.loads((ROOT / "configs" / base).read_text())
    _merge(data, changes)
    path.write_text(json.dumps(data))
    return path


def run_cli(config: Path, env_extra: dict | None = None, timeout: int = 600) -> tuple[Path, str]:
    """(results folder, stdout) of a successful run; fails the test with the run's stderr."""
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run([sys.executable, "-m", "gensemcom", "run", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("results: ")]
    assert line, proc.stdout
    return Path(line[-1].removeprefix("results: ")), proc.stdout
