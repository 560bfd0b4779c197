"""Time ``load_fer2013`` against the usual pandas + per-row ``np.fromstring`` parse.

Usage::

    python benchmarks/bench_load_fer2013.py [PATH] [--repeat 3] [--plain]

PATH defaults to ``$FER2013_PATH`` or ``../shared/data/fer2013/fer2013.csv.gz``
relative to the repository root. ``--plain`` also times an uncompressed copy,
written to a temporary folder (never beside the source or in the repository).
Each method runs ``--repeat`` times; the medians and their ratios are printed.
"""

import argparse
import gzip
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from fer_sklearn.datasets import load_fer2013

REPO = Path(__file__).resolve().parents[1]
DEFAULT = Path(os.environ.get("FER2013_PATH", REPO.parent / "shared/data/fer2013/fer2013.csv.gz"))


def pandas_per_row(path, dtype=None):
    """The common recipe: read with pandas, then parse each row's pixel string."""
    frame = pd.read_csv(path)
    kwargs = {} if dtype is None else {"dtype": dtype}
    pixels = np.array([np.fromstring(row, sep=" ", **kwargs) for row in frame["pixels"]])
    return pixels, frame["emotion"].to_numpy(), frame["Usage"].to_numpy()


def median_time(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def bench(path, repeat, data_home):
    print(f"\n{path} ({path.stat().st_size / 1e6:.0f} MB), median of {repeat} runs")
    methods = {
        "pandas + per-row np.fromstring (float64)": lambda: pandas_per_row(path),
        "pandas + per-row np.fromstring (uint8)": lambda: pandas_per_row(path, np.uint8),
        "load_fer2013(cache=False)": lambda: load_fer2013(path, cache=False),
        "load_fer2013, cache hit": lambda: load_fer2013(path, data_home=data_home),
    }
    load_fer2013(path, data_home=data_home)  # fill the cache
    results = {name: median_time(func, repeat) for name, func in methods.items()}
    reference = results["pandas + per-row np.fromstring (float64)"][1][0]
    for name, (_, result) in results.items():
        pixels = result[0] if isinstance(result, tuple) else result.data
        assert np.array_equal(pixels, reference), name
    ours = results["load_fer2013(cache=False)"][0]
    for name, (seconds, _) in results.items():
        print(f"  {name:45s} {seconds:7.2f} s   {seconds / ours:6.2f} x load_fer2013(cache=False)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plain", action="store_true", help="also time an uncompressed copy")
    args = parser.parse_args(argv)
    if not args.path.exists():
        sys.exit(f"FER2013 not found at {args.path}; pass PATH or set FER2013_PATH")
    print(f"numpy {np.__version__}, pandas {pd.__version__}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as scratch:
        bench(args.path, args.repeat, Path(scratch) / "home")
        if args.plain and args.path.suffix == ".gz":
            plain = Path(scratch) / args.path.stem
            with gzip.open(args.path) as src, open(plain, "wb") as dst:
                shutil.copyfileobj(src, dst)
            bench(plain, args.repeat, Path(scratch) / "home")


if __name__ == "__main__":
    main()
