#!/usr/bin/env bash
# Wall times a new user sees, measured on a fresh clone of this repository:
#   1. bootstrap from nothing (venv + pinned deps + C++ build)
#   2. bootstrap again (must be a no-op: idempotent)
#   3. the default run: ./run.sh configs/gen_semcom.json
#   4. the test suite: ./test.sh
# Usage: bench/wall_times.sh [CLONE_DIR]   (default: a new temporary directory; ~15 min)
# The clone (~7 GB with its .venv) is deleted at the end, the logs are kept; KEEP_CLONE=1 keeps it.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
dest="${1:-$(mktemp -d /tmp/gensemcom-bench-XXXX)}"
[ "${KEEP_CLONE:-0}" = 1 ] || trap 'rm -rf "$dest/repo"' EXIT
git clone -q "$src" "$dest/repo"
cd "$dest/repo"

declare -A wall
step() {  # step NAME CMD...: time one command, keep its log, fail loudly
  local name=$1; shift
  local start=$SECONDS
  if ! "$@" >"$dest/$name.log" 2>&1; then
    echo "step '$name' failed; log: $dest/$name.log" >&2; tail -20 "$dest/$name.log" >&2; exit 1
  fi
  wall[$name]=$((SECONDS - start))
}
step bootstrap_fresh ./scripts/bootstrap.sh
step bootstrap_again ./scripts/bootstrap.sh
step default_run ./run.sh configs/gen_semcom.json
step test_suite ./test.sh -q

echo "| step | wall (s) |"
echo "|---|---|"
for name in bootstrap_fresh bootstrap_again default_run test_suite; do
  echo "| $name | ${wall[$name]} |"
done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; logs in $dest"
grep -h '^results: ' "$dest/default_run.log" || true
tail -1 "$dest/test_suite.log"
