#!/usr/bin/env bash
# Usage: ./run.sh configs/gen_semcom.json   (first call bootstraps .venv and the C++ build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: ./run.sh CONFIG.json" >&2; exit 2; }
config="$(realpath "$1")"
"$here/scripts/bootstrap.sh"
cd "$here"
exec .venv/bin/python -m gensemcom run "$config"
