"""What makes two fits of the same ``random_state`` differ: the thread count, per precision.

Fits ``FERCNNClassifier(n_filters=8, max_epochs=2, random_state=0)`` on
``make_faces(400)`` on 1 thread and twice on 2 threads, in float32 and in
bfloat16 autocast, and prints whether the probabilities of the two 2-thread
fits are identical and how far the 1-thread fit's are from them. The user
guide's "Reproducibility" section quotes its output.

Usage::

    python benchmarks/bench_reproducibility.py
"""

import platform

import numpy as np
import torch

from fer_sklearn import FERCNNClassifier
from fer_sklearn._precision import native_bfloat16
from fer_sklearn.datasets import make_faces


def main():
    X, y = make_faces(400, random_state=0, return_X_y=True)
    print(f"{platform.processor() or platform.machine()}, native bfloat16: "
          f"{native_bfloat16('cpu')}, torch {torch.__version__}")
    for precision in ("float32", "bfloat16"):
        proba = {}
        for threads in (1, 2, 2):
            torch.set_num_threads(threads)
            model = FERCNNClassifier(n_filters=8, max_epochs=2, random_state=0,
                                     precision=precision).fit(X, y)
            proba.setdefault(threads, []).append(model.predict_proba(X))
        print(f"{precision}: two fits on 2 threads identical: "
              f"{np.array_equal(*proba[2])}; 1 thread against 2: largest difference in a "
              f"probability {np.abs(proba[1][0] - proba[2][0]).max():.3f}")


if __name__ == "__main__":
    main()
