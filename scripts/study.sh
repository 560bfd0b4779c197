#!/usr/bin/env bash
# Set everything up, then run the CNN vs DNN study on the built-in synthetic faces;
# it prints where the report is (fer-study/report.html). Extra arguments go to
# `fer-sklearn study`, e.g. --quick or --data fer2013.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/fer-sklearn study --out fer-study --force "$@"
