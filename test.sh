#!/usr/bin/env bash
# Usage: ./test.sh [pytest args]   (same bootstrap as run.sh, then the whole test suite)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
"$here/scripts/bootstrap.sh"
cd "$here"
exec .venv/bin/python -m pytest "$@"
