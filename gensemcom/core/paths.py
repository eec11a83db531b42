"""Where the repository and its build live (the package is installed editable from it), and
how a cache file there is written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]


def build_dir() -> Path:
    """The C++ build (libgensemcom.so, fading trace and NR table caches); GENSEMCOM_BUILD_DIR
    overrides it."""
    return Path(os.environ.get("GENSEMCOM_BUILD_DIR", REPO_ROOT / "build"))


def write_atomically(path: Path, write: Callable[[IO], None], binary: bool = False) -> None:
    """Create `path` (and its folder) with `write(file)` (a text file, or binary): written under
    a temporary name in the same folder, then renamed, so that no reader (a parallel run, a
    resumed campaign) ever sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
