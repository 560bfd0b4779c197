"""Speed and memory of :func:`fer_sklearn.video.predict_video` on a 640x480, 25 fps clip.

The clip is made here, in a temporary folder, with OpenCV's ``VideoWriter``
(MPEG-4 Part 2, ``mp4v``): one real face -- the astronaut of
``skimage.data.astronaut()`` (Eileen Collins), cut around
:func:`~fer_sklearn.faces.detect_faces`' box enlarged 1.5 times, scaled to
160 px and blended in with a soft elliptical edge -- drifting slowly (at most
about 4 px/s) and changing size by +-5% on a smooth, coloured, textured
background with a little per-frame sensor noise (so the encoder has something
to encode in every frame, as a camera's clip would). No FER2013 data is used.

It reports, side by side in one run, each measured ``--repeats`` times
(interleaved, so that a change of load on the machine hits both) and given as
the median:

- frames/s of ``predict_video(clip, model)`` with its defaults, against the
  naive loop a user would write: per frame, read it with
  ``cv2.VideoCapture``, :func:`~fer_sklearn.faces.detect_faces` with its photo
  defaults, :func:`~fer_sklearn.faces.crop_face` of the best face and
  ``predict_proba`` of that one face. The naive loop runs on the first
  ``--naive-frames`` frames only (with the Haar detector it costs about a
  second per frame) and its frames/s is measured on those;
- what each stage of ``predict_video``'s defaults costs, in ms per frame:
  decoding (iterating the clip's frames, grey), detection (one pass of the
  video detector every ``detect_every`` frames, amortised over all frames),
  tracking, cropping and classification (``predict_proba`` in batches of 64);
  "other" is the rest of ``predict_video``'s time per frame (building the
  table);
- peak resident memory of a fresh process that loads the model and runs
  ``predict_video`` on clips of ``--memory-minutes`` (by default 1 and 10
  minutes), and the ratio of the longest to the shortest: the peak while
  ``predict_video`` runs (``VmHWM`` reset just before it; Linux only) and the
  whole process's peak (``ru_maxrss``), which loading the model can set on
  its own and so hide what ``predict_video`` adds.

The model is ``predict_video``'s default, the shipped ``fer2013`` model for
detected faces (``load_pretrained("fer2013", faces=True)``; before it existed,
the shipped model for FER2013's crops, the same networks in size and cost).
The targets checked: at least 25 frames/s with the defaults (faster than real
time), at least 3 times the naive loop, and a 10-minute clip's peak memory
within 10% of a 1-minute clip's.

Usage::

    python benchmarks/bench_video.py --out benchmarks/results/video.json
    python benchmarks/bench_video.py --docs    # docs/_video_results.rst from the JSON
    python benchmarks/bench_video.py --seconds 20 --repeats 3 --naive-frames 50 \\
        --memory-minutes 1 10 --out benchmarks/results/video.json
    # a quick check of the script itself
    python benchmarks/bench_video.py --seconds 2 --repeats 1 --naive-frames 5 \\
        --memory-minutes 0.05 0.1 --out /tmp/video.json
"""

import argparse
import datetime
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _memory import reset_peak, status_mb  # benchmarks/ is the script's directory

REPO = Path(__file__).resolve().parents[1]
SIZE = (640, 480)  # width, height
FPS = 25
FACE_SIDE = 160  # pixels of the pasted cut; the detector's box is about 2/3 of it
STAGES = ("decode", "detect", "track", "crop", "classify")
TARGETS = {"frames_per_s": 25.0, "ratio_to_naive": 3.0, "memory_ratio": 1.10}


def astronaut_face():
    """The astronaut's face: RGB pixels and a soft elliptical alpha, FACE_SIDE square.

    The cut is the detector's box enlarged 1.5 times about its centre, so the
    whole head (chin, hair) comes along and the detector sees a face, not a
    cut-out square.
    """
    import cv2
    import skimage.data

    from fer_sklearn.faces import detect_faces

    image = skimage.data.astronaut()
    x, y, width, height = detect_faces([image]).iloc[0][["x", "y", "width", "height"]]
    side = round(1.5 * width)
    x0, y0 = round(x + width / 2 - side / 2), round(y + height / 2 - side / 2)
    cut = image[max(y0, 0):y0 + side, max(x0, 0):x0 + side]
    face = cv2.resize(cut, (FACE_SIDE, FACE_SIDE), interpolation=cv2.INTER_AREA)
    # An ellipse a little narrower than tall, fading out over its outer 10%.
    grid = (np.arange(FACE_SIDE) + 0.5) / FACE_SIDE - 0.5
    radius = np.hypot(grid[None, :] / 0.45, grid[:, None] / 0.5)
    alpha = np.clip((1 - radius) / 0.1, 0, 1).astype(np.float32)
    return face.astype(np.float32), alpha


def background(rng):
    """A smooth textured wall of 640x480 (RGB, float32): soft blobs, a tint, a finer grain."""
    import cv2

    def smooth(rows, columns, channels):
        return cv2.resize(rng.rand(rows, columns, channels).astype(np.float32), SIZE,
                          interpolation=cv2.INTER_CUBIC).reshape(SIZE[1], SIZE[0], channels)

    texture = 60 + 90 * smooth(12, 16, 1) + 30 * smooth(12, 16, 3) + 25 * smooth(120, 160, 1)
    return np.clip(texture, 0, 255)


def render_frames(seconds, seed=0):
    """The clip's frames (BGR, uint8), one at a time, so a long clip never sits in memory.

    The face's centre moves on slow sines (amplitudes 40 and 20 px, periods
    60 and 50 s: at most 4.2 and 2.5 px/s) and its size by +-5% (period
    40 s), so it stays in the frame however long the clip.
    """
    import cv2

    rng = np.random.RandomState(seed)
    face, alpha = astronaut_face()
    width, height = SIZE
    # A few noisy copies of the background, cycled: fresh noise for every
    # frame of a 10-minute clip would take longer than encoding it.
    wall = background(rng)[:, :, ::-1]  # BGR, as OpenCV writes
    walls = [np.clip(np.rint(wall + rng.normal(0, 2, (height, width, 1))), 0, 255).astype(np.uint8)
             for _ in range(8)]
    face = np.ascontiguousarray(face[:, :, ::-1])
    for index in range(round(seconds * FPS)):
        t = index / FPS
        side = round(FACE_SIDE * (1 + 0.05 * math.sin(2 * math.pi * t / 40)))
        cx = width / 2 + 40 * math.sin(2 * math.pi * t / 60)
        cy = height / 2 + 20 * math.sin(2 * math.pi * t / 50)
        x0, y0 = round(cx - side / 2), round(cy - side / 2)
        patch = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
        weight = cv2.resize(alpha, (side, side), interpolation=cv2.INTER_AREA)[:, :, None]
        frame = walls[index % len(walls)].copy()
        region = frame[y0:y0 + side, x0:x0 + side]
        region[:] = np.rint(weight * patch + (1 - weight) * region)
        yield frame


def write_clip(path, seconds):
    """Write the test clip of ``seconds`` to ``path`` (mp4v); the seconds it took."""
    import cv2

    start = time.perf_counter()
    writer = cv2.VideoWriter(os.fspath(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v video to {path}")
    try:
        for frame in render_frames(seconds):
            writer.write(frame)
    finally:
        writer.release()
    return time.perf_counter() - start


def run_predict_video(path, model):
    """``predict_video(path, model)`` with its defaults: frames, seconds, frames/s."""
    from fer_sklearn.video import predict_video

    start = time.perf_counter()
    table = predict_video(path, model)
    seconds = time.perf_counter() - start
    n_frames = table["frame"].nunique()
    with_face = table.loc[table["track"].notna(), "frame"].nunique()
    return {"frames": int(n_frames), "seconds": seconds, "frames_per_s": n_frames / seconds,
            "frames_with_face": with_face / n_frames}


def run_naive(path, model, n_frames):
    """The loop a user would write, on the clip's first ``n_frames`` frames.

    Per frame: read, :func:`detect_faces` with its photo defaults,
    :func:`crop_face` of the best-scoring face, ``predict_proba`` of that one
    face.
    """
    import cv2

    from fer_sklearn.faces import crop_face, detect_faces

    side = math.isqrt(int(model.n_features_in_))
    capture = cv2.VideoCapture(os.fspath(path))
    done = with_face = 0
    start = time.perf_counter()
    try:
        while done < n_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            faces = detect_faces([bgr[:, :, ::-1]])
            if len(faces):
                best = faces.iloc[0]
                gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
                face = crop_face(gray, best[["x", "y", "width", "height"]].to_numpy(float),
                                 angle=best["angle"], size=side)
                model.predict_proba(face.reshape(1, -1))
                with_face += 1
            done += 1
    finally:
        capture.release()
    seconds = time.perf_counter() - start
    return {"frames": done, "seconds": seconds, "frames_per_s": done / seconds,
            "frames_with_face": with_face / done}


def run_stages(path, model):
    """One ``predict_video(path, model)`` run, timed stage by stage: frames, seconds per stage.

    The stages are timed inside the real ``predict_video``: its module's
    names for the frame reader, the detector, the tracker and the cropper are
    wrapped with timers for the run, and the model's ``predict_proba`` too,
    so "other" (the run's time less the stages) is what ``predict_video``
    adds itself -- the table, the labels.
    """
    from unittest import mock

    from fer_sklearn.video import _predict

    seconds = dict.fromkeys(STAGES + ("total",), 0.0)

    def timed(stage, function):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[stage] += time.perf_counter() - start
        return wrapper

    class TimedClip(_predict.Clip):
        def __iter__(self):
            frames = super().__iter__()
            return iter(timed("decode", lambda: next(frames, None)), None)

    class TimedTracker(_predict.Tracker):
        update = timed("track", _predict.Tracker.update)
        current = timed("track", _predict.Tracker.current)

    class TimedModel:
        def __init__(self, model):
            self.classes_, self.n_features_in_ = model.classes_, model.n_features_in_
            self.predict_proba = timed("classify", model.predict_proba)

    with mock.patch.object(_predict, "Clip", TimedClip), \
            mock.patch.object(_predict, "Tracker", TimedTracker), \
            mock.patch.object(_predict, "_detect_one", timed("detect", _predict._detect_one)), \
            mock.patch.object(_predict, "crop_face", timed("crop", _predict.crop_face)):
        table = timed("total", _predict.predict_video)(path, TimedModel(model))
    return table["frame"].nunique(), seconds


def memory_child(path):
    """In a fresh process: load the model, run predict_video, print the figures as JSON.

    Two peaks: ``ru_maxrss``, the whole process's, which loading the model
    may set on its own (it unpacks the file), and the peak while
    ``predict_video`` runs, read from ``VmHWM`` after resetting it to the
    resident size (writing 5 to ``/proc/self/clear_refs``; Linux only), which
    is what would grow with the clip's length.
    """
    from fer_sklearn.pretrained import load_pretrained

    model = load_pretrained("fer2013", faces=True)[-1]
    before = reset_peak()
    result = run_predict_video(path, model)
    print(json.dumps({**result, "rss_before_mb": before,
                      "peak_during_mb": status_mb("VmHWM"),
                      # Kilobytes on Linux.
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _median(runs, key):
    return float(np.median([run[key] for run in runs]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20, help="length of the speed clip")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measure (median)")
    parser.add_argument("--naive-frames", type=int, default=50,
                        help="frames the naive loop runs on (from the clip's start)")
    parser.add_argument("--memory-minutes", type=float, nargs="+", default=[1, 10],
                        help="lengths of the clips whose peak memory is measured")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own default)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/video.json")
    parser.add_argument("--docs", action="store_true",
                        help="write docs/_video_results.rst from --out, and measure nothing")
    parser.add_argument("--memory-child", metavar="CLIP", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.docs:
        write_docs(json.loads(args.out.read_text()), REPO / "docs" / "_video_results.rst")
        return

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args.memory_child)
        return

    import cv2
    import sklearn
    from fer2013 import cpu_description  # benchmarks/ is the script's directory

    from fer_sklearn.faces import resolve_detector
    from fer_sklearn.pretrained import load_pretrained
    from fer_sklearn.video import VIDEO_DETECTOR, predict_video
    defaults = {key: value for key, value in predict_video.__kwdefaults__.items()
                if key not in ("n_jobs", "verbose", "detector")}
    detector = resolve_detector("auto")  # what the defaults run on this machine
    command = "python benchmarks/bench_video.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    report = {
        "benchmark": "predict_video frames/s against a naive per-frame loop, stage costs, "
                     "peak memory against clip length",
        "command": command.strip(),
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpu": cpu_description(), "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "load_average_1min": os.getloadavg()[0], "platform": platform.platform()},
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "opencv": cv2.__version__, "numpy": np.__version__,
                     "sklearn": sklearn.__version__},
        "clip": {"width": SIZE[0], "height": SIZE[1], "fps": FPS, "codec": "mp4v",
                 "seconds": args.seconds, "face": "skimage.data.astronaut()",
                 "face_cut_px": FACE_SIDE},
        "predict_video_defaults": {**defaults, "detector": detector,
                                   "detector_params": dict(VIDEO_DETECTOR[detector])},
        "targets": TARGETS,
    }
    print(f"{command.strip()}\n{report['machine']['cpu']}, {os.cpu_count()} CPUs, "
          f"torch threads {torch.get_num_threads()}, "
          f"load average {report['machine']['load_average_1min']:.2f}", flush=True)

    model = load_pretrained("fer2013", faces=True)[-1]
    side = math.isqrt(int(model.n_features_in_))
    # First-call allocations (oneDNN, skorch) out of every measure.
    model.predict_proba(np.random.RandomState(0).randint(0, 256, (2, side * side)))

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "speed.mp4"
        written = write_clip(clip, args.seconds)
        report["clip"]["write_seconds"] = written
        n_naive = min(args.naive_frames, round(args.seconds * FPS))
        print(f"clip: {SIZE[0]}x{SIZE[1]}, {FPS} fps, mp4v, {args.seconds:g} s "
              f"({round(args.seconds * FPS)} frames), written in {written:.1f} s",
              flush=True)

        video_runs, naive_runs = [], []
        for repeat in range(args.repeats):
            video_runs.append(run_predict_video(clip, model))
            naive_runs.append(run_naive(clip, model, n_naive))
            print(f"  run {repeat + 1}: predict_video {video_runs[-1]['frames_per_s']:.1f} "
                  f"frames/s, naive loop {naive_runs[-1]['frames_per_s']:.2f} frames/s",
                  flush=True)
        video_fps = _median(video_runs, "frames_per_s")
        naive_fps = _median(naive_runs, "frames_per_s")
        report["speed"] = {
            "predict_video": {"median_frames_per_s": video_fps,
                              "median_ms_per_frame": 1000 / video_fps, "runs": video_runs},
            "naive_loop": {"median_frames_per_s": naive_fps,
                           "median_ms_per_frame": 1000 / naive_fps, "runs": naive_runs,
                           "note": f"measured on the clip's first {n_naive} frames only"},
            "ratio": video_fps / naive_fps}

        stage_runs = []
        for _ in range(args.repeats):
            n_frames, seconds = run_stages(clip, model)
            run = {stage: 1000 * s / n_frames for stage, s in seconds.items()}
            run["other"] = run.pop("total") - sum(run[stage] for stage in STAGES)
            stage_runs.append(run)
        stages = {stage: _median(stage_runs, stage) for stage in STAGES + ("other",)}
        report["stages_ms_per_frame"] = {**stages, "runs": stage_runs}

    if not args.skip_memory:
        memory_runs = []
        for minutes in args.memory_minutes:
            with tempfile.TemporaryDirectory() as tmp:  # one long clip on disk at a time
                clip = Path(tmp) / "memory.mp4"
                written = write_clip(clip, 60 * minutes)
                done = subprocess.run(
                    [sys.executable, __file__, "--memory-child", os.fspath(clip)]
                    + (["--threads", str(args.threads)] if args.threads else []),
                    check=True, stdout=subprocess.PIPE, text=True)  # its errors show
            memory_runs.append({"minutes": minutes, "write_seconds": written,
                                **json.loads(done.stdout.strip().splitlines()[-1])})
            run = memory_runs[-1]
            print(f"  memory, {minutes:g} min: peak {run['peak_during_mb']:.0f} MB during "
                  f"predict_video ({run['rss_before_mb']:.0f} MB before), process peak "
                  f"{run['peak_rss_mb']:.0f} MB, {run['frames_per_s']:.1f} frames/s", flush=True)
        longest = max(memory_runs, key=lambda run: run["minutes"])
        shortest = min(memory_runs, key=lambda run: run["minutes"])
        report["memory"] = {
            "runs": memory_runs,
            "ratio": longest["peak_during_mb"] / shortest["peak_during_mb"],
            "ratio_process_peak": longest["peak_rss_mb"] / shortest["peak_rss_mb"]}

    report["targets_met"] = {
        "frames_per_s": video_fps >= TARGETS["frames_per_s"],
        "ratio_to_naive": report["speed"]["ratio"] >= TARGETS["ratio_to_naive"]}
    if "memory" in report:
        report["targets_met"]["memory_ratio"] = report["memory"]["ratio"] <= TARGETS[
            "memory_ratio"]
    print_table(report)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {args.out}")


def write_docs(report, path):
    """The figures of ``report`` (this script's JSON) as reStructuredText for the docs."""
    speed, stages = report["speed"], report["stages_ms_per_frame"]
    video, naive = speed["predict_video"], speed["naive_loop"]
    machine = report["machine"]
    lines = [
        f"Measured by ``{report['command']}`` on {report['date'][:10]}: "
        f"{machine['cpu']}, {machine['cpu_count']} cores, torch on "
        f"{machine['torch_threads']} threads; ``predict_video``'s defaults: the shipped "
        "``fer2013`` model for detected faces, the "
        f"``{report['predict_video_defaults']['detector']}`` detector. "
        f"The clip: {report['clip']['width']}x{report['clip']['height']}, "
        f"{report['clip']['fps']} frames/s, MPEG-4, one real face (the astronaut of "
        "``skimage.data.astronaut()``, 160 px) drifting slowly on a textured background. "
        f"Medians of {len(video['runs'])} runs.",
        "",
        "- :func:`~fer_sklearn.video.predict_video` with its defaults: "
        f"**{video['median_frames_per_s']:.0f} frames/s** "
        f"({video['median_ms_per_frame']:.0f} ms a frame), "
        f"{speed['ratio']:.0f} times the naive loop a user would write (per frame: read, "
        ":func:`~fer_sklearn.faces.detect_faces` with its photograph defaults, crop, "
        f"``predict_proba`` of one face: {naive['median_frames_per_s']:.2f} frames/s, "
        f"measured on the clip's first {naive['runs'][0]['frames']} frames).",
        "- Where a frame's time goes, in ms: " + ", ".join(
            f"{stage} {stages[stage]:.1f}" for stage in STAGES + ("other",))
        + f" (detection runs every {report['predict_video_defaults']['detect_every']} frames; "
        "its cost is spread over all; other: building the table).",
    ]
    if "memory" in report:
        memory = report["memory"]
        runs = ", ".join(f"{run['minutes']:g} min ({run['frames']:,} frames): "
                         f"{run['peak_during_mb']:.0f} MB"
                         for run in sorted(memory["runs"], key=lambda run: run["minutes"]))
        lines.append(
            "- Peak memory while :func:`~fer_sklearn.video.predict_video` runs, in a fresh "
            f"process that has loaded the model: {runs}; longest / shortest "
            f"**{memory['ratio']:.3f}**, against "
            f"{max(run['rss_before_mb'] for run in memory['runs']):.0f} MB with the model "
            "loaded, before the call.")
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")


def print_table(report):
    """The report's figures as a readable table."""
    speed, stages = report["speed"], report["stages_ms_per_frame"]
    video, naive = speed["predict_video"], speed["naive_loop"]
    repeats = len(video["runs"])
    print(f"\n{f'speed, median of {repeats} run(s)':<38}{'frames/s':>9}{'ms/frame':>10}"
          "  frames with a face")
    for name, run in [("predict_video, defaults", video),
                      (f"naive loop, first {naive['runs'][0]['frames']} frames", naive)]:
        print(f"  {name:<36}{run['median_frames_per_s']:9.2f}{run['median_ms_per_frame']:10.1f}"
              f"  {_median(run['runs'], 'frames_with_face'):6.0%}")
    print(f"  {'predict_video / naive loop':<36}{speed['ratio']:8.1f}x")
    defaults = report["predict_video_defaults"]
    notes = {"decode": "clip iteration: read, to grey",
             "detect": f"one pass every {defaults['detect_every']} frames, amortised over all",
             "track": "match boxes, carry them forward", "crop": "crop_face, one per face",
             "classify": f"predict_proba in batches of {defaults['batch_size']}",
             "other": "the rest of the same runs: building the table, the labels"}
    print(f"\npredict_video's stages, ms per frame, median of {repeats} run(s)")
    for stage, note in {**notes, "total": "predict_video, timed with the stages"}.items():
        ms = (sum(stages[name] for name in STAGES + ("other",)) if stage == "total"
              else stages[stage])
        print(f"  {stage:<9}{ms:8.2f}   {note}".rstrip())
    if "memory" in report:
        memory = report["memory"]
        print(f"\n{'peak RSS, fresh process':<26}{'during predict_video':>21}"
              f"{'process peak':>14}")
        for run in memory["runs"]:
            print(f"  {run['minutes']:5g} min ({run['frames']:6d} frames)"
                  f"{run['peak_during_mb']:15.0f} MB{run['peak_rss_mb']:11.0f} MB")
        print(f"  {'longest / shortest':<24}{memory['ratio']:18.3f}"
              f"{memory['ratio_process_peak']:14.3f}")
    print("\ntargets: " + ", ".join(f"{name} {'met' if met else 'NOT met'}"
                                   for name, met in report["targets_met"].items()))


if __name__ == "__main__":
    main()
