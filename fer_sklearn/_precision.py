"""Numeric precision of the forward passes: float32, or bfloat16 autocast.

With bfloat16, convolutions and matrix products run under
:func:`torch.autocast` (weights, optimizer state and the loss stay float32),
which roughly halves the memory traffic of a training step and, on CPUs with
native bfloat16 dot products (AVX512-BF16, AMX) and on recent GPUs, speeds it
up (``benchmarks/bench_precision.py``). Only the skorch net's ``infer`` is
wrapped, so the fitted ``module_`` stays an ordinary float32 module for
:mod:`fer_sklearn.interpret` and the ONNX export.
"""

import functools

import torch
from skorch import NeuralNetClassifier

PRECISIONS = ("float32", "bfloat16", "auto")


@functools.lru_cache(maxsize=None)
def _cpu_flags():
    """The CPU's feature flags as the OS lists them (Linux), or None where it lists none.

    Read once per process: every ``predict_proba`` with ``precision="auto"`` asks.
    """
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return None


def native_bfloat16(device):
    """Whether ``device`` has fast (native) bfloat16 matrix arithmetic.

    On a CPU that means bfloat16 dot-product units: AVX512-BF16 or AMX-BF16.
    oneDNN's own check (``torch.ops.mkldnn._is_mkldnn_bf16_supported``) also
    says yes for AVX512 CPUs without them, where it emulates bfloat16 and a
    training step of the default CNN runs about 3 times *slower* than in
    float32 (measured on an AVX512 Xeon without BF16: 3.85 s against 1.25 s
    per batch of 128); so the CPU's own flags decide where the OS lists them
    (Linux), and oneDNN's check elsewhere.

    Parameters
    ----------
    device : str
        A resolved device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.

    Returns
    -------
    native : bool
    """
    if torch.device(device).type == "cuda":
        return torch.cuda.is_bf16_supported()
    flags = _cpu_flags()
    if flags is not None:
        return bool(flags & {"avx512_bf16", "amx_bf16"})
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


def autocast_dtype(precision, device):
    """The autocast dtype for a ``precision`` parameter on ``device``, or None for float32.

    Parameters
    ----------
    precision : {"float32", "bfloat16", "auto"}
        ``"auto"`` is bfloat16 where :func:`native_bfloat16` says the device
        has it, float32 elsewhere.
    device : str
        A resolved device.

    Returns
    -------
    dtype : torch.dtype or None
    """
    if precision == "bfloat16" or (precision == "auto" and native_bfloat16(device)):
        return torch.bfloat16
    return None


# On a CPU a forward pass without gradients is faster and leaner in batches
# of 32 images than of 128 (the default training batch): the shipped models
# predicted 1.3-1.5 times as many faces per second, adding about half the
# memory (benchmarks/bench_inference_batch.py, docs/benchmarks.rst).
CPU_INFERENCE_BATCH = 32


# What a pickled net holds as ``module`` when that is the instance in ``module_``.
_SAME_AS_MODULE_ = "<module_>"


class AutocastNeuralNetClassifier(NeuralNetClassifier):
    """A skorch classifier whose forward passes run under autocast to ``autocast_dtype``.

    Training, validation and prediction all go through ``infer``, so all use
    the same precision; the logits are returned as float32 for the loss and
    the probabilities. ``autocast_dtype=None`` is a plain
    :class:`skorch.NeuralNetClassifier`.
    """

    def __init__(self, module, *args, autocast_dtype=None, **kwargs):
        # Passes without gradients (prediction, validation) take CPU_INFERENCE_BATCH
        # images at a time on a CPU, whatever the training batch.
        if torch.device(kwargs.get("device") or "cpu").type == "cpu":
            kwargs.setdefault("iterator_valid__batch_size", CPU_INFERENCE_BATCH)
        super().__init__(module, *args, **kwargs)
        self.autocast_dtype = autocast_dtype

    def __getstate__(self):
        # skorch pickles module_ (the CUDA-dependent attributes) apart from the rest, so
        # an instance passed as ``module`` -- the same network -- would be written twice.
        state = super().__getstate__()
        if "module_" in self.__dict__ and state["module"] is self.module_:
            state["module"] = _SAME_AS_MODULE_
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if isinstance(self.module, str) and self.module == _SAME_AS_MODULE_:
            self.module = self.module_

    def infer(self, x, **fit_params):
        if self.autocast_dtype is None:
            return super().infer(x, **fit_params)
        device_type = torch.device(self.device).type
        with torch.autocast(device_type, dtype=self.autocast_dtype):
            logits = super().infer(x, **fit_params)
        return logits.float()
