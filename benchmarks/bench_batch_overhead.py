"""Where a training batch's time goes: the step itself, and what a GPU would wait for.

Fits ``FERCNNClassifier()`` with its defaults (flip, shift and erase
augmentation, one-cycle schedule, label smoothing) for ``--epochs`` epochs on
``--n-samples`` synthetic faces, and splits each training batch's wall time
into: the training step (forward, loss, backward, optimizer: the part a GPU
runs), the ``on_batch_begin`` callbacks (the augmentations, which run on the
batch as the data loader gives it, on the CPU), the ``on_batch_end``
callbacks, and the rest (data loader, collation, skorch's bookkeeping). On a
GPU the step shrinks by one or two orders of magnitude while the CPU work
around it stays: its share here, against the step's, says how much of a
GPU's time would be spent waiting. The first epoch is a warm-up; medians per
batch over the others.

Usage::

    python benchmarks/bench_batch_overhead.py --n-samples 4096 --epochs 3
"""

import argparse
import platform
import statistics
import time

import torch

from fer_sklearn import FERCNNClassifier
from fer_sklearn._precision import native_bfloat16
from fer_sklearn._weighting import WeightedNeuralNetClassifier
from fer_sklearn.datasets import make_faces


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args(argv)

    X, y = make_faces(args.n_samples, random_state=0, return_X_y=True)
    parts = {"step": [], "on_batch_begin": [], "on_batch_end": [], "batch": []}
    clock = {"epoch": 0, "end": None}
    train_step, notify = WeightedNeuralNetClassifier.train_step, WeightedNeuralNetClassifier.notify

    def record(name, seconds):
        if clock["epoch"] > 1:  # the first epoch is a warm-up
            parts[name].append(seconds)

    def timed_step(self, batch, **fit_params):
        start = time.perf_counter()
        result = train_step(self, batch, **fit_params)
        record("step", time.perf_counter() - start)
        return result

    def timed_notify(self, method_name, **kwargs):
        start = time.perf_counter()
        notify(self, method_name, **kwargs)
        now = time.perf_counter()
        if method_name == "on_epoch_begin":
            clock["epoch"] += 1
            clock["end"] = now
        elif method_name in ("on_batch_begin", "on_batch_end") and kwargs.get("training"):
            record(method_name, now - start)
            if method_name == "on_batch_end":  # from the previous batch's end to this one's
                record("batch", now - clock["end"])
                clock["end"] = now

    WeightedNeuralNetClassifier.train_step = timed_step
    WeightedNeuralNetClassifier.notify = timed_notify
    try:
        model = FERCNNClassifier(max_epochs=args.epochs, precision=args.precision,
                                 random_state=0).fit(X, y)
    finally:
        WeightedNeuralNetClassifier.train_step = train_step
        WeightedNeuralNetClassifier.notify = notify
    median = {name: 1000 * statistics.median(values) for name, values in parts.items()}
    rest = median["batch"] - median["step"] - median["on_batch_begin"] - median["on_batch_end"]
    print(f"{platform.machine()}, native bfloat16: {native_bfloat16('cpu')}, "
          f"precision={args.precision}, torch {torch.__version__} on "
          f"{torch.get_num_threads()} threads; batch {model.batch_size}, median ms per "
          f"training batch after a warm-up epoch:")
    print(f"  whole batch        {median['batch']:8.2f}")
    print(f"  training step      {median['step']:8.2f}")
    print(f"  augmentations      {median['on_batch_begin']:8.2f}  (on_batch_begin)")
    print(f"  on_batch_end       {median['on_batch_end']:8.2f}")
    print(f"  loader and rest    {rest:8.2f}")
    outside = median["batch"] - median["step"]
    print(f"  outside the step   {outside:8.2f}  ({outside / median['batch']:.1%} of the batch)")


if __name__ == "__main__":
    main()
