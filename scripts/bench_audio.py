"""Benchmark the audio backends: decode + resample throughput on the same files.

For each format (wav, flac, mp3, ogg) a `--seconds` stereo 44.1 kHz file is decoded with
each usable backend (soundfile/ffmpeg; tensorflow-io where it loads) and resampled to the
model rate 8192 Hz with soxr (the resampler of every backend), `--runs` times; the median
gives seconds of audio per second of wall time. tensorflow-io's own resampler is measured
beside soxr for reference, with its deviation from soxr after its latency is removed.

Run it where tensorflow-io loads (TensorFlow 2.17.1): `make test-tfio` builds that venv.

    .venv-tfio/bin/python scripts/bench_audio.py
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from cunet.audio.reading import read_audio
from cunet.audio.resample import resample
from cunet.audio.tfio import tfio_status

RATE, MODEL_RATE = 44100, 8192


def make_files(folder: Path, seconds: float) -> dict:
    rng = np.random.default_rng(0)
    t = np.arange(int(RATE * seconds)) / RATE
    x = np.stack([0.2 * np.sin(2 * np.pi * 220 * t), 0.2 * np.sin(2 * np.pi * 330 * t)], 1)
    x = (x + 0.05 * rng.standard_normal(x.shape)).astype("float32")
    files = {"wav": folder / "a.wav", "flac": folder / "a.flac"}
    sf.write(files["wav"], x, RATE, subtype="PCM_16")
    sf.write(files["flac"], x, RATE, subtype="PCM_16")
    for fmt, codec in (("mp3", ["-q:a", "2"]), ("ogg", ["-c:a", "libvorbis", "-q:a", "6"])):
        files[fmt] = folder / f"a.{fmt}"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(files["wav"]), *codec, str(files[fmt])], check=True)
    return files


def median_time(fn, runs: int) -> float:
    fn()  # warm-up (graph tracing, codec start-up)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def tfio_resampler_deviation(x: np.ndarray) -> tuple[float, float]:
    """(seconds, deviation from soxr in dB after removing tfio's latency) for 44.1 kHz -> 8192 Hz."""
    import tensorflow as tf
    import tensorflow_io as tfio

    start = time.perf_counter()
    out = tfio.audio.resample(tf.constant(x), rate_in=RATE, rate_out=MODEL_RATE).numpy()[:, 0]
    seconds = time.perf_counter() - start
    ref = resample(x, RATE, MODEL_RATE)[:, 0]
    errors = []
    for lag in range(0, 64):
        a, b = out[lag + 200 : len(ref) - 200], ref[200 : len(ref) - 200 - lag]
        errors.append(np.sqrt(np.mean((a - b) ** 2) / np.mean(b**2)))
    return seconds, 20 * np.log10(min(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    usable, reason = tfio_status()
    backends = ["soundfile"] + (["tfio"] if usable else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(Path(tmp), args.seconds)
        for fmt, path in files.items():
            for backend in backends:
                t = median_time(lambda p=path, b=backend: resample(read_audio(p, b)[0], RATE, MODEL_RATE), args.runs)
                rows.append((fmt, backend, "soxr", args.seconds / t))
        if usable:
            x = read_audio(files["wav"])[0][:, :1]
            seconds, deviation = tfio_resampler_deviation(x)
            soxr_seconds = median_time(lambda: resample(x, RATE, MODEL_RATE), args.runs)
    print(
        f"audio backends: {args.seconds:.0f} s stereo 44.1 kHz -> {MODEL_RATE} Hz, median of {args.runs}; tfio: {reason}"
    )
    print(f"{'format':<8}{'decoder':<11}{'resampler':<11}{'x real time':>12}")
    for fmt, backend, resampler, speed in rows:
        print(f"{fmt:<8}{backend:<11}{resampler:<11}{speed:>12.0f}")
    if usable:
        print(
            f"resampler only (mono): soxr {args.seconds / soxr_seconds:.0f}x real time, "
            f"tfio.audio.resample {args.seconds / seconds:.0f}x real time, deviating from soxr by {deviation:.1f} dB"
        )
    speed = {(f, b): s for f, b, _, s in rows}
    ratios = [speed[(f, "soundfile")] / speed[(f, "tfio")] for f in files if (f, "tfio") in speed]
    print(
        f"soundfile_over_tfio_min={min(ratios) if ratios else float('nan'):.2f} "
        f"soundfile_over_tfio_max={max(ratios) if ratios else float('nan'):.2f}"
    )


if __name__ == "__main__":
    main()
