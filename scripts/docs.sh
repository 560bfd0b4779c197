#!/usr/bin/env bash
# Set everything up, then build the HTML documentation (the "make docs" of
# this project): the gallery examples are executed and every Sphinx warning
# is an error. Output: docs/_build/html/index.html.
#
#   bash scripts/docs.sh                 # set up .venv and build
#   SKIP_SETUP=1 bash scripts/docs.sh    # build with the existing .venv
#   bash scripts/docs.sh -D sphinx_gallery_conf.plot_gallery=0   # no examples run
#
# Extra arguments go to sphinx-build. The examples use the built-in synthetic
# faces, or a subset of FER2013 when FER2013_PATH names the CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${SKIP_SETUP:-}" ]]; then
    bash scripts/setup.sh
    .venv/bin/python -m pip install -q -e ".[docs]"
fi
# A fresh build each time: stale stubs or gallery pages hide errors.
rm -rf docs/_build docs/auto_examples docs/gen_modules docs/sg_execution_times.rst
start=$(date +%s)
.venv/bin/python -m sphinx -W --keep-going -b html "$@" docs docs/_build/html
echo "docs built in $(( $(date +%s) - start )) s: docs/_build/html/index.html"
