#!/usr/bin/env bash
# Create .venv and install fer_sklearn with its test extras.
# The CPU build of torch 2.13.0 goes in first: the package's open "torch>=2.2"
# range is then already satisfied, so pip never pulls a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[test]"
