#!/usr/bin/env bash
# Create .venv and install fer_sklearn with its test extras, saying what each
# step installs. pip shows its own progress on a terminal; in pipes and CI
# (CI set) it stays quiet and each step is one line.
#
# The build of torch 2.13.0 goes in first: the package's open "torch>=2.2"
# range is then already satisfied, so the next step never pulls a second,
# different build. Which build that first step gets depends on the machine:
# where the package index offers the CPU wheel (as on the machines this
# project is developed and tested on), the CPU build; from
# PyPI on Linux x86-64, the CUDA build (several GB). README.md says how to
# choose.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
say() { echo "[setup $((SECONDS - start)) s] $*"; }
if [[ -t 1 && -z "${CI:-}" ]]; then quiet=(); else quiet=(-q); fi
pip_install() {  # ${quiet[@]+...}: an empty array is an unbound variable to bash < 4.4
    .venv/bin/python -m pip install ${quiet[@]+"${quiet[@]}"} "$@"
}

say "creating .venv with $(python3 --version)"
python3 -m venv .venv
say "upgrading pip"
pip_install --upgrade pip
say "installing torch 2.13.0 (the largest download)"
pip_install "torch==2.13.0"
dependencies=$(.venv/bin/python - <<'PY'
import re
try:
    import tomllib  # Python 3.11+
except ImportError:
    print("those listed in pyproject.toml")
else:
    project = tomllib.load(open("pyproject.toml", "rb"))["project"]
    names = project["dependencies"] + project["optional-dependencies"]["test"]
    print(", ".join(re.split(r"[<>=!~\[; ]", name, maxsplit=1)[0] for name in names))
PY
)
say "installing fer_sklearn (editable) and what it needs: $dependencies"
pip_install -e ".[test]"
say "done: $(.venv/bin/python -c 'import fer_sklearn, torch; print("fer_sklearn", fer_sklearn.__version__, "with torch", torch.__version__)')"
