"""Benchmark `cunet separate` on both runtimes (LiteRT, TensorFlow), side by side.

1. Whole process: `cunet separate SONG --model M --runtime R` in a child process, start to
   exit, on a 3-minute stereo 44.1 kHz 16-bit wav (musdb-mini test mixtures concatenated when
   the set is there, else a synthetic signal), every instrument of the model (the simplest
   command), then `-i vocals` (one instrument); wall time and peak RSS from `os.wait4`.
   `--process-runs` runs per runtime (started by a small launcher, so the peak is the child's
   own), alternated between the runtimes, medians (the CPU may be shared: alternation spreads
   the load evenly).
2. Separation throughput in this process (decoded audio to written files, the CLI's code:
   decode -> resample -> model -> full-band mask -> inverse STFT -> write): vocals, then
   vocals with `--wiener`, `--runs` runs each per runtime, alternated, medians; the real-time
   factor is seconds of audio per second of wall time. The model share is the time spent in
   model calls (summed over the separator's two model threads) divided by 2 x the wall time.
3. Peak RSS of `cunet separate -i vocals` on a `--long-minutes` (default 60) stereo wav, per
   runtime (one run each).

Model (--model): the embedded default model (when installed; otherwise as "paper"), "paper"
for a freshly built `cunet-simple-dense` model with random weights (the paper model's
compute), or a `.keras` path (LiteRT needs its `.tflite` beside it: `cunet export`). Prints
one table, then one line of key=value: `realtime_factor model_share peak_rss_mb_60min` of the
default runtime (auto), then per runtime R: `R_realtime_factor R_wiener_realtime_factor
R_model_share R_peak_rss_mb_3min R_process_seconds_3min R_peak_rss_mb_3min_vocals
R_process_seconds_3min_vocals R_peak_rss_mb_60min`.

    nice -n 10 .venv/bin/python scripts/bench_separate.py            # about 3-4 minutes
    .venv/bin/python scripts/bench_separate.py --runtime litert --long-minutes 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RATE = 44100
MUSDB_MINI = Path(__file__).resolve().parents[2] / "shared" / "musdb-mini"
RUNTIMES = ("litert", "tensorflow")


def three_minutes() -> tuple[np.ndarray, str]:
    from cunet.audio.reading import read_audio

    tracks = sorted((MUSDB_MINI / "test").glob("*.stem.mp4")) + sorted((MUSDB_MINI / "train").glob("*.stem.mp4"))
    need = 180 * RATE
    if tracks:
        parts, total = [], 0
        for track in tracks:
            x, rate = read_audio(track)
            assert rate == RATE
            parts.append(x)
            total += len(x)
            if total >= need:
                return np.concatenate(parts)[:need], f"musdb-mini mixtures ({len(parts)} tracks)"
    rng = np.random.default_rng(0)
    t = np.arange(need) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + 0.1 * np.sin(t)))
    noise = 0.05 * rng.standard_normal((need, 2))
    return (tone[:, None] + noise).astype(np.float32), "synthetic"


def write_long(path: Path, base: np.ndarray, minutes: float) -> None:
    """Tile `base` into a `minutes`-long 16-bit wav, written block by block."""
    total = int(minutes * 60 * RATE)
    with sf.SoundFile(path, "w", RATE, base.shape[1], subtype="PCM_16") as f:
        done = 0
        while done < total:
            block = base[: total - done]
            f.write(block)
            done += len(block)


def model_file(tmp: Path, choice: str) -> tuple[Path, str]:
    """`choice`: "default" (the embedded model), "paper" (cunet-simple-dense, random weights,
    exported to LiteRT too: the paper model's compute) or a path to a trained model."""
    from cunet.separation.runtimes import default_model_path

    if choice == "default" and default_model_path().is_file():
        return default_model_path(), "embedded default model"
    if choice not in ("default", "paper"):
        return Path(choice), choice
    from cunet.config import load_config
    from cunet.model.export import export_tflite
    from cunet.model.files import save_model
    from cunet.model.unet import build_model

    config = load_config("cunet-simple-dense")
    model = build_model(config, compile=False)
    path = save_model(model, config, tmp / "cunet-simple-dense-random.keras")
    export_tflite(model, config, path.with_suffix(".tflite"), source=path)
    return path, "cunet-simple-dense (paper size), random weights"


# A child's ru_maxrss counts the memory of the process it was forked from (before exec), so
# `cunet separate` is started by this small launcher, not by the benchmark process itself.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def whole_process(model: Path, runtime: str, song: Path, out_dir: Path, *options: str) -> tuple[float, float]:
    """`cunet separate` in a child process, start to exit: (wall seconds, peak RSS in MB)."""
    cmd = [
        sys.executable,
        "-m",
        "cunet",
        "separate",
        str(song),
        "--model",
        str(model),
        "--runtime",
        runtime,
        "--out-dir",
        str(out_dir),
        "--overwrite",
        *options,
    ]
    started = time.perf_counter()
    launched = subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - started
    maxrss_kb, code = launched.stdout.split()[-2:]
    if launched.returncode != 0 or code != "0":
        raise SystemExit(f"bench_separate: {' '.join(cmd)} failed: {launched.stderr.strip()[-500:]}")
    return wall, int(maxrss_kb) / 1024


class TimedMasks:
    """A `MaskEstimator` around another that sums the time spent in its calls and the patches
    they saw (over the separator's model threads); every other attribute is the inner one's."""

    def __init__(self, masks):
        self.masks, self.seconds, self.patches = masks, 0.0, 0
        self._lock = threading.Lock()

    def __call__(self, patches, condition=None):
        started = time.perf_counter()
        out = self.masks(patches, condition)
        with self._lock:
            self.seconds += time.perf_counter() - started
            self.patches += len(patches)
        return out

    def __getattr__(self, name):
        return getattr(self.masks, name)


def throughput(separator, song: Path, out: Path, wiener: bool) -> tuple[float, float, float]:
    """One in-process separation of vocals, decoded file to written file: (wall s, CPU s, model s)."""
    from cunet.separation.files import stream_to_files

    separator.masks.seconds, separator.masks.patches = 0.0, 0
    started, cpu = time.perf_counter(), time.process_time()
    stream_to_files(separator, song, {"vocals": out}, ["vocals"], wiener=wiener, progress=False)
    return time.perf_counter() - started, time.process_time() - cpu, separator.masks.seconds


def measure(args, runtimes, model: Path, song: Path, tmp: Path) -> dict:
    """{runtime: {measure: list of values}} for the in-process and whole-process runs."""
    from cunet.separation.separator import Separator

    results = {
        r: {
            "wall": [],
            "cpu": [],
            "model": [],
            "wiener_wall": [],
            "process_wall": [],
            "process_rss": [],
            "vocals_process_wall": [],
            "vocals_process_rss": [],
        }
        for r in runtimes
    }
    separators = {r: Separator.load(model, runtime=r, overlap=args.overlap) for r in runtimes}
    for separator in separators.values():
        separator.masks = TimedMasks(separator.masks)
    for separator in separators.values():
        separator.separate(np.zeros((10 * RATE, 2), np.float32), RATE, ["vocals"])  # trace / allocate once
    for run in range(args.runs):
        for r in runtimes if run % 2 == 0 else runtimes[::-1]:
            wall, cpu, model_s = throughput(separators[r], song, tmp / "out" / f"{r}-{run}.wav", wiener=False)
            results[r]["wall"].append(wall)
            results[r]["cpu"].append(cpu)
            results[r]["model"].append(model_s)
            results[r]["wiener_wall"].append(throughput(separators[r], song, tmp / "out" / f"{r}-w{run}.wav", True)[0])
    results["patches"] = next(iter(separators.values())).masks.patches
    del separators
    for run in range(args.process_runs):
        for r in runtimes if run % 2 == 0 else runtimes[::-1]:
            for prefix, options in (("", ()), ("vocals_", ("-i", "vocals"))):
                wall, rss = whole_process(model, r, song, tmp / f"process-{r}", *options)
                results[r][f"{prefix}process_wall"].append(wall)
                results[r][f"{prefix}process_rss"].append(rss)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runtime",
        default="both",
        choices=("both", *RUNTIMES),
        help="runtimes to measure (default both, side by side)",
    )
    parser.add_argument("--runs", type=int, default=5, help="in-process runs per runtime and mode (default 5)")
    parser.add_argument("--process-runs", type=int, default=3, help="whole-process runs per runtime (default 3)")
    parser.add_argument("--long-minutes", type=float, default=60.0, help="long input for peak RSS (0: skip)")
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument(
        "--model",
        default="default",
        help="default (embedded), paper (paper-size model, random weights) or a .keras path",
    )
    args = parser.parse_args()
    runtimes = RUNTIMES if args.runtime == "both" else (args.runtime,)

    with tempfile.TemporaryDirectory(prefix="cunet-bench-") as tmp:
        tmp = Path(tmp)
        model, model_desc = model_file(tmp, args.model)
        audio, origin = three_minutes()
        song = tmp / "three-minutes.wav"
        sf.write(song, audio, RATE, subtype="PCM_16")
        seconds = len(audio) / RATE
        results = measure(args, runtimes, model, song, tmp)
        long_runs = {}
        if args.long_minutes > 0:
            long_song = tmp / "long.wav"
            write_long(long_song, audio, args.long_minutes)
            for r in runtimes:
                long_runs[r] = whole_process(model, r, long_song, tmp / f"long-{r}", "-i", "vocals")
                for f in (tmp / f"long-{r}").rglob("*.wav"):
                    f.unlink()
    report(args, runtimes, results, long_runs, seconds, model_desc, origin)


def report(args, runtimes, results, long_runs, seconds, model_desc, origin) -> None:
    median = statistics.median
    patches = results["patches"]
    header = ["measure", *runtimes]
    rows = [
        ("model", *[model_desc] * len(runtimes)),
        ("input", *[f"{seconds:.0f} s stereo {RATE} Hz 16-bit wav, {origin}"] * len(runtimes)),
    ]
    keys = {}
    for r in runtimes:
        m = results[r]
        keys[r] = {
            "realtime_factor": seconds / median(m["wall"]),
            "wiener_realtime_factor": seconds / median(m["wiener_wall"]),
            "model_share": median(m["model"]) / (2 * median(m["wall"])),
            "peak_rss_mb_3min": median(m["process_rss"]),
            "process_seconds_3min": median(m["process_wall"]),
            "peak_rss_mb_3min_vocals": median(m["vocals_process_rss"]),
            "process_seconds_3min_vocals": median(m["vocals_process_wall"]),
        }
        if r in long_runs:
            keys[r][f"peak_rss_mb_{args.long_minutes:g}min"] = long_runs[r][1]

    def row(label, fn):
        rows.append((label, *[fn(r) for r in runtimes]))

    row(
        "whole process, every instrument: wall (median)",
        lambda r: (
            f"{keys[r]['process_seconds_3min']:.2f} s "
            f"(runs {', '.join(f'{w:.2f}' for w in results[r]['process_wall'])})"
        ),
    )
    row("whole process: peak RSS (median)", lambda r: f"{keys[r]['peak_rss_mb_3min']:.0f} MB")
    row(
        "whole process, vocals (-i vocals): wall (median)",
        lambda r: (
            f"{keys[r]['process_seconds_3min_vocals']:.2f} s "
            f"(runs {', '.join(f'{w:.2f}' for w in results[r]['vocals_process_wall'])})"
        ),
    )
    row("whole process, vocals: peak RSS (median)", lambda r: f"{keys[r]['peak_rss_mb_3min_vocals']:.0f} MB")
    row(
        "vocals in process: wall (median)",
        lambda r: f"{median(results[r]['wall']):.2f} s (runs {', '.join(f'{w:.2f}' for w in results[r]['wall'])})",
    )
    row("real-time factor, decoded to written", lambda r: f"{keys[r]['realtime_factor']:.1f}x")
    row(
        "real-time factor with --wiener",
        lambda r: (
            f"{keys[r]['wiener_realtime_factor']:.1f}x "
            f"(+{median(results[r]['wiener_wall']) / median(results[r]['wall']) - 1:.0%} time)"
        ),
    )
    row(f"process CPU time ({os.cpu_count()} cores)", lambda r: f"{median(results[r]['cpu']):.2f} s")
    row(
        "model calls, summed over 2 threads / share",
        lambda r: f"{median(results[r]['model']):.2f} s / {keys[r]['model_share']:.0%}",
    )
    row("patches per s of wall time", lambda r: f"{patches / median(results[r]['wall']):.1f} ({patches} patches)")
    if long_runs:
        row(f"{args.long_minutes:g}-min input, vocals: peak RSS", lambda r: f"{long_runs[r][1]:.0f} MB")
        row(
            f"{args.long_minutes:g}-min input: wall / real-time factor",
            lambda r: f"{long_runs[r][0]:.0f} s / {args.long_minutes * 60 / long_runs[r][0]:.1f}x (incl. start-up)",
        )
    widths = [max(len(str(row_[i])) for row_ in [header, *rows]) for i in range(len(header))]
    for row_ in [header, ["-" * w for w in widths], *rows]:
        print("| " + " | ".join(f"{str(c):<{w}}" for c, w in zip(row_, widths)) + " |")
    if len(runtimes) == 2:
        lit, tf = keys["litert"], keys["tensorflow"]
        print(
            f"litert / tensorflow: whole-process wall {lit['process_seconds_3min'] / tf['process_seconds_3min']:.2f}x "
            f"(vocals {lit['process_seconds_3min_vocals'] / tf['process_seconds_3min_vocals']:.2f}x), "
            f"peak RSS {lit['peak_rss_mb_3min'] / tf['peak_rss_mb_3min']:.2f}x, "
            f"throughput {lit['realtime_factor'] / tf['realtime_factor']:.2f}x"
        )
    default = keys["litert"] if "litert" in keys else keys[runtimes[0]]
    line = [f"realtime_factor={default['realtime_factor']:.3f}", f"model_share={default['model_share']:.3f}"]
    long_key = f"peak_rss_mb_{args.long_minutes:g}min"
    if long_key in default:
        line.append(f"{long_key}={default[long_key]:.1f}")
    for r in runtimes:
        line += [
            f"{r}_{k}={v:.3f}" if "factor" in k or "share" in k or "seconds" in k else f"{r}_{k}={v:.1f}"
            for k, v in keys[r].items()
        ]
    print(" ".join(line))


if __name__ == "__main__":
    main()
