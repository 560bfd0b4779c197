"""The test suite's ``--precision-path`` in every Python process it starts.

pytest's conftest sets the variable :data:`VARIABLE` and puts this folder on
``PYTHONPATH``, so that joblib's and dask's workers and the command line's
subprocesses resolve ``precision="auto"`` as the tests' own process does:
Python imports ``sitecustomize`` at start-up, and this one changes the CPU
flags that ``fer_sklearn._precision`` reads once that module is imported,
without importing fer_sklearn itself.
"""

import importlib.abc
import importlib.util
import os
import sys

VARIABLE = "FER_SKLEARN_TEST_PRECISION_PATH"
BF16_UNITS = frozenset({"avx512_bf16", "amx_bf16"})


def set_path(precision, path):
    """Make ``precision`` (``fer_sklearn._precision``) see a CPU with or without bfloat16 units."""
    # The CPU's flags are what native_bfloat16 reads: changing them leaves its
    # own logic (and its tests, which set flags of their own) as it is.
    flags = precision._cpu_flags() or frozenset()
    flags = flags | {"avx512_bf16"} if path == "bfloat16" else flags - BF16_UNITS
    precision._cpu_flags = lambda: flags


class _SetPathOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "fer_sklearn._precision":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            set_path(module, os.environ[VARIABLE])

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get(VARIABLE) in ("bfloat16", "float32"):
    sys.meta_path.insert(0, _SetPathOnImport())
