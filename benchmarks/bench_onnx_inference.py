"""Inference throughput on the CPU: onnxruntime against PyTorch (``predict_proba``).

Usage::

    python benchmarks/bench_onnx_inference.py [--n-images 500] [--repeat 5]

The default :class:`~fer_sklearn.FERCNNClassifier` architecture (1.17M
parameters) with 2 test-time views (``test_time_flip=True``,
``test_time_shift=0``) is fitted for one epoch on 300 random faces (the
weights do not matter for speed), then exported with
:func:`fer_sklearn.export_onnx` (``input_shape="flat"``). Both paths start
from the same float32 ``(n, 2304)`` pixels and return probabilities: PyTorch
through ``est.predict_proba`` (input validation, scaling, skorch batches of 128, both
flips), onnxruntime through ``session.run`` on the whole array. A third line
runs the same torch module on the whole array at once under
``torch.inference_mode`` (what the ONNX graph computes), to separate the
runtimes from skorch's batching. Each is timed
``--repeat`` times after one warm-up run; the medians in images per second and
their ratio are printed, with the thread counts of both runtimes.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np
import onnxruntime as ort
import torch

from fer_sklearn import FERCNNClassifier
from fer_sklearn._onnx import export_onnx


def median_seconds(func, repeat):
    func()  # warm-up: first-call allocations and kernel selection
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-images", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.RandomState(0)
    X = rng.randint(0, 256, (args.n_images, 48 * 48)).astype(np.float32)
    # float32, as the exported graph and the figures in docs/scaling.rst are.
    est = FERCNNClassifier(max_epochs=1, test_time_shift=0, precision="float32",
                           random_state=0, device="cpu")
    est.fit(X[:300], rng.randint(0, 7, 300))

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "fer_cnn.onnx")
        export_onnx(est, path)
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    def run_onnx():
        return session.run(None, {"pixels": X})[0]

    diff = np.abs(run_onnx() - est.predict_proba(X)).max()
    def run_module():
        with torch.inference_mode():
            Xt = est.to_tensor(X)
            proba = torch.softmax(est.module_(torch.cat([Xt, Xt.flip(-1)])), dim=1)
            return proba.reshape(2, len(X), -1).mean(0)

    seconds = {
        "pytorch (est.predict_proba)": median_seconds(lambda: est.predict_proba(X), args.repeat),
        "pytorch (module, one batch)": median_seconds(run_module, args.repeat),
        "onnxruntime (session.run)": median_seconds(run_onnx, args.repeat),
    }
    print(f"{est.n_params_:,} parameters, test_time_flip=True, test_time_shift=0, "
          f"{args.n_images} images, "
          f"median of {args.repeat} runs; torch {torch.__version__} on "
          f"{torch.get_num_threads()} threads, onnxruntime {ort.__version__} (default "
          f"threads), {os.cpu_count()} CPUs; max |proba diff| = {diff:.1e}")
    for name, value in seconds.items():
        print(f"  {name:30s} {args.n_images / value:9.0f} images/s  ({value:.3f} s)")
    ratio = seconds["pytorch (est.predict_proba)"] / seconds["onnxruntime (session.run)"]
    print(f"  onnxruntime / pytorch throughput: {ratio:.2f}x")


if __name__ == "__main__":
    main()
