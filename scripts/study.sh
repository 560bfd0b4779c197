#!/usr/bin/env bash
# Set everything up, then run the main job on the built-in synthetic faces.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python examples/quickstart.py "$@"
