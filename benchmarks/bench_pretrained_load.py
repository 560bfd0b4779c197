"""Load time of the shipped model in a fresh process, and the time to label a real photo.

Each of 5 fresh processes imports fer_sklearn.pretrained, loads
``load_pretrained("fer2013", faces=True)``, then predicts the probabilities of
``skimage.data.astronaut()``; the medians are printed. Figures: docs/benchmarks.rst.

Usage::

    python benchmarks/bench_pretrained_load.py
"""
import json
import statistics
import subprocess
import sys

code = r'''
import time
t0 = time.perf_counter()
from fer_sklearn.pretrained import load_pretrained
model = load_pretrained("fer2013", faces=True)
t1 = time.perf_counter()
from skimage.data import astronaut
photo = astronaut()
t2 = time.perf_counter()
proba = model.predict_proba([photo])
t3 = time.perf_counter()
print(t1 - t0, t3 - t2, model.classes_[proba.argmax()])
'''
rows = []
for _ in range(5):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    rows.append((float(out[0]), float(out[1]), out[2]))
print(json.dumps({"import_and_load_s_median": statistics.median(r[0] for r in rows),
                  "astronaut_predict_s_median": statistics.median(r[1] for r in rows),
                  "labels": [r[2] for r in rows], "runs": rows}, indent=1))
