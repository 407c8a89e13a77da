"""Benchmark `cunet separate`: real-time factor end to end, the model's share, peak memory.

1. A 3-minute stereo 44.1 kHz wav (musdb-mini test mixtures concatenated when the set is
   there, else a synthetic signal) is separated into vocals by the same code as the CLI
   (decode -> resample -> model -> full-band mask -> inverse STFT -> write), `--runs` times;
   the median wall time gives the real-time factor (seconds of audio per second). The model
   runs in two threads beside the main one (`cunet.separation.streaming`), so its share is the time
   spent in model calls summed over both model threads, divided by 2 x the wall time.
2. Peak resident memory (ru_maxrss of a child process) of `cunet separate` on a
   `--long-minutes` (default 60) stereo 44.1 kHz wav.

Model (--model): the embedded default model (when installed; otherwise as "paper"), "paper"
for a freshly built `cunet-simple-dense` model with random weights (the paper model's
compute), or a path. Prints one table, then
`realtime_factor=<float> model_share=<float> peak_rss_mb_60min=<float>`.

    nice -n 10 .venv/bin/python scripts/bench_separate.py
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RATE = 44100
MUSDB_MINI = Path(__file__).resolve().parents[2] / "shared" / "musdb-mini"


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
    """`choice`: "default" (the embedded model), "paper" (cunet-simple-dense, random weights:
    the paper model's compute) or a path to a trained model."""
    from cunet.separation.runtimes import default_model_path

    if choice == "default" and default_model_path().is_file():
        return default_model_path(), "embedded default model"
    if choice not in ("default", "paper"):
        return Path(choice), choice
    from cunet.config import load_config
    from cunet.model.files import save_model
    from cunet.model.unet import build_model

    config = load_config("cunet-simple-dense")
    path = save_model(build_model(config, compile=False), config, tmp / "cunet-simple-dense-random.keras")
    return path, "cunet-simple-dense (paper size), random weights"


def peak_rss_mb(model: Path, song: Path, out_dir: Path) -> tuple[float, float]:
    """Run `cunet separate` in a child process: (peak RSS in MB, wall seconds)."""
    cmd = [sys.executable, "-m", "cunet", "separate", str(song), "--model", str(model),
           "-i", "vocals", "--out-dir", str(out_dir), "--overwrite"]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--long-minutes", type=float, default=60.0)
    parser.add_argument("--overlap", type=float, default=0.25)
    parser.add_argument("--model", default="default",
                        help="default (embedded), paper (paper-size model, random weights) or a .keras path")
    args = parser.parse_args()

    from cunet.separation.files import stream_to_files
    from cunet.separation.separator import Separator

    with tempfile.TemporaryDirectory(prefix="cunet-bench-") as tmp:
        tmp = Path(tmp)
        model, model_desc = model_file(tmp, args.model)
        audio, origin = three_minutes()
        song = tmp / "three-minutes.wav"
        sf.write(song, audio, RATE, subtype="PCM_16")
        seconds = len(audio) / RATE

        separator = Separator.load(model, overlap=args.overlap)
        separator.separate(audio[: 10 * RATE], RATE, ["vocals"])  # trace the model once
        walls, model_times, cpu_times = [], [], []
        for run in range(args.runs):
            separator.masks.seconds, separator.masks.patches = 0.0, 0
            out = {"vocals": tmp / "out" / f"vocals-{run}.wav"}
            started, cpu = time.perf_counter(), time.process_time()
            stream_to_files(separator, song, out, ["vocals"], progress=False)
            walls.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu)
            model_times.append(separator.masks.seconds)
        wall = statistics.median(walls)
        model_time = statistics.median(model_times)
        cpu_time = statistics.median(cpu_times)
        patches = separator.masks.patches

        long_song = tmp / "long.wav"
        write_long(long_song, audio, args.long_minutes)
        rss, long_wall = peak_rss_mb(model, long_song, tmp / "long-out")

    rtf = seconds / wall
    share = model_time / (2 * wall)
    rows = [
        ("model", model_desc),
        ("input", f"{seconds:.0f} s stereo {RATE} Hz 16-bit wav, {origin}"),
        ("instrument", f"vocals, overlap {args.overlap}, {patches} patches ({patches / seconds:.2f} per s of audio)"),
        ("wall time, median of runs", f"{wall:.2f} s  (runs: {', '.join(f'{w:.2f}' for w in walls)})"),
        ("real-time factor, end to end", f"{rtf:.1f}x"),
        (f"process CPU time ({os.cpu_count()} cores)", f"{cpu_time:.2f} s ({cpu_time / wall:.2f} cores busy)"),
        ("model calls, summed over 2 threads / share", f"{model_time:.2f} s / {share:.0%} of 2 x wall"),
        ("patches per s of wall time", f"{patches / wall:.1f}"),
        (f"{args.long_minutes:.0f}-min input: peak RSS", f"{rss:.0f} MB (child process, incl. TF import)"),
        (f"{args.long_minutes:.0f}-min input: wall / real-time factor",
         f"{long_wall:.0f} s / {args.long_minutes * 60 / long_wall:.1f}x (incl. start-up)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | value |")
    print(f"| {'-' * width} | --- |")
    for key, value in rows:
        print(f"| {key:<{width}} | {value} |")
    print(f"realtime_factor={rtf:.3f} model_share={share:.3f} peak_rss_mb_{args.long_minutes:.0f}min={rss:.1f}")


if __name__ == "__main__":
    main()
