"""Where the repository and its build live (the package is installed editable from it)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    """The C++ build (libgensemcom.so, fading trace cache); GENSEMCOM_BUILD_DIR overrides it."""
    return Path(os.environ.get("GENSEMCOM_BUILD_DIR", REPO_ROOT / "build"))
