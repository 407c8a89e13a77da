"""Training at MUSDB18 scale: peak memory per process and step rate, per strategy.

Writes a stem cache of generated signals the size of MUSDB18's training split (default 100
tracks of 240 s at the config's rate, in a temporary folder), then runs `cunet train` on it
as a user would, once per strategy: default, mirrored, and multiworker with two local
workers (two processes, TF_CONFIG on localhost ports). Per run it reports the peak resident
memory of each process (from the kernel's accounting of that process, `os.wait4`) and the
seconds from process start to the end of the first training step (a run of one step). The
training step rate (default strategy) is timed in a child process around `fit` on the same
pipeline and model as `cunet train` (after a warm-up epoch), on the large cache and on a
small one (musdb-mini's prepared cache when given, else 4 generated tracks of 30 s).

    python scripts/bench_scale.py --tracks 100 --seconds 240 [--storage float32|float16|int16]

The last line is key=value: cache_gb= peak_rss_gb_default= peak_rss_gb_mirrored=
peak_rss_gb_multiworker= first_step_s= (and the step-rate ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cunet.config import config_hash, load_config, save_config
from cunet.training.cache import FORMAT, MANIFEST, assign_splits, track_file_name


def write_cache(root: Path, config, tracks: int, seconds: float, seed: int = 0) -> float:
    """A cache of `tracks` generated tracks (band-limited noise bursts per stem); its size in GB."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rate, stems = config.audio.sample_rate, len(config.instruments)
    length = int(seconds * rate)
    names = [f"generated {i:03d}" for i in range(tracks)]
    splits = assign_splits(names, config.data.valid_fraction)
    entries = []
    for name in names:
        envelope = np.repeat(rng.uniform(0, 0.3, (length // rate + 1, stems)), rate, axis=0)[:length]
        array = (rng.standard_normal((length, stems), dtype=np.float32) * envelope).astype(np.float32)
        file = track_file_name(name)
        np.save(root / file, array)
        entries.append({"name": name, "file": file, "length": length, "split": splits[name]})
    manifest = {
        "format": FORMAT,
        "config_hash": config_hash(config),
        "sample_rate": rate,
        "instruments": list(config.instruments),
        "complete": True,
        "expected_tracks": tracks,
        "split_rule": f"valid_fraction {config.data.valid_fraction}",
        "tracks": entries,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return tracks * length * stems * 4 / 1e9


def run_processes(commands: list[list[str]], envs: list[dict]) -> list[dict]:
    """Start the commands together; wall time, output and peak RSS (GB) of each."""
    started = time.perf_counter()
    procs = [
        subprocess.Popen(c, env=e, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for c, e in zip(commands, envs)
    ]
    results = []
    for proc in procs:
        output = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(commands[procs.index(proc)])} failed:\n{output[-3000:]}")
        results.append(
            {"wall_s": time.perf_counter() - started, "peak_rss_gb": usage.ru_maxrss / 2**20, "output": output}
        )
    return results


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def train_commands(
    strategy: str, config: str, cache: Path, out: Path, steps: int, epochs: int, batch: int, storage_config: Path
) -> tuple[list, list]:
    base = [
        sys.executable,
        "-m",
        "cunet",
        "train",
        "--config",
        str(storage_config),
        "--data",
        str(cache),
        "--epochs",
        str(epochs),
        "--steps-per-epoch",
        str(steps),
        "--batch-size",
        str(batch),
        "--validation-steps",
        "1",
        "--no-tensorboard",
        "--strategy",
        strategy,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if strategy != "multiworker":
        return [base + ["--out", str(out)]], [env]
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{p}" for p in ports]}
    commands, envs = [], []
    for index in range(2):
        commands.append(base + ["--out", str(out)])
        envs.append({**env, "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})})
    return commands, envs


def child_step_rate(config_path: str, cache: str, steps: int, batch: int) -> None:
    """In a child process: steps/s of `fit` on the training pipeline of `cache`, as `train` builds it."""
    import keras

    from cunet.config import load_config
    from cunet.training.data import training_dataset
    from cunet.training.run import training_model

    config = load_config(config_path).replace(training={"batch_size": batch})
    keras.utils.set_random_seed(0)
    _, trainer = training_model(config, ".", None)
    dataset = training_dataset(config, cache, seed=0)
    trainer.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)  # trace, compile, warm up
    started = time.perf_counter()
    trainer.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    print(json.dumps({"steps_per_s": steps / (time.perf_counter() - started)}))


def step_rate(cache: Path, args, storage_config: Path) -> float:
    command = [
        sys.executable,
        __file__,
        "--child-rate",
        str(storage_config),
        str(cache),
        "--steps",
        str(args.steps),
        "--batch-size",
        str(args.batch_size),
    ]
    (result,) = run_processes([command], [{**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}])
    return json.loads(result["output"].strip().splitlines()[-1])["steps_per_s"]


def measure(strategy, cache, work, args, storage_config) -> dict:
    """Peak RSS of every process of a one-step run and of a two-epoch run, and the one-step
    run's wall time."""
    first_cmds, first_envs = train_commands(
        strategy, args.config, cache, work / f"{strategy}-first", 1, 1, args.batch_size, storage_config
    )
    first = run_processes(first_cmds, first_envs)
    cmds, envs = train_commands(
        strategy, args.config, cache, work / f"{strategy}-epochs", 2, 2, args.batch_size, storage_config
    )
    runs = run_processes(cmds, envs)
    return {
        "peak_rss_gb": max(r["peak_rss_gb"] for r in first + runs),
        "first_step_s": max(r["wall_s"] for r in first),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--config", default="cunet-simple-dense")
    parser.add_argument("--storage", default="float32", choices=("float32", "float16", "int16"))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=12, help="timed training steps of the step-rate runs")
    parser.add_argument("--strategies", default="default,mirrored,multiworker")
    parser.add_argument(
        "--small-cache", type=Path, default=None, help="the reference cache (e.g. musdb-mini prepared for the config)"
    )
    parser.add_argument("--keep", type=Path, default=None, help="work folder to keep (default: a temporary one)")
    parser.add_argument("--child-rate", nargs=2, metavar=("CONFIG", "CACHE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rate:
        child_step_rate(*args.child_rate, args.steps, args.batch_size)
        return 0

    config = load_config(args.config).replace(data={"storage": args.storage})
    work = args.keep or Path(tempfile.mkdtemp(prefix="cunet-bench-scale-"))
    try:
        storage_config = work / f"{config.name}.yaml"
        save_config(config, storage_config)
        started = time.perf_counter()
        cache_gb = write_cache(work / "cache", config, args.tracks, args.seconds)
        print(
            f"cache: {args.tracks} tracks x {args.seconds:g} s, {cache_gb:.2f} GB "
            f"(written in {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
        small = args.small_cache
        if small is None:
            small = work / "small-cache"
            write_cache(small, config, 4, 30.0, seed=1)
        reference = measure("default", small, work / "small", args, storage_config)
        results = {
            strategy: measure(strategy, work / "cache", work, args, storage_config)
            for strategy in args.strategies.split(",")
        }
        print(f"peak memory and first step: small cache {reference}, large {results}", flush=True)
        rates = []  # alternated: small, large, small, large
        for _ in range(2):
            rates.append((step_rate(small, args, storage_config), step_rate(work / "cache", args, storage_config)))
            print(f"steps/s small, large: {rates[-1]}", flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    bound = (cache_gb * (0.5 if args.storage != "float32" else 1.0)) + 2.0
    print()
    small_rate = float(np.median([r[0] for r in rates]))
    large_rate = float(np.median([r[1] for r in rates]))
    print("| run | peak RSS per process (GB) | bound (GB) | first step (s) |")
    print("| --- | ---: | ---: | ---: |")
    print(f"| default, small cache | {reference['peak_rss_gb']:.2f} | | {reference['first_step_s']:.1f} |")
    for strategy, r in results.items():
        print(
            f"| {strategy}, {cache_gb:.2f} GB cache | {r['peak_rss_gb']:.2f} | {bound:.2f} | {r['first_step_s']:.1f} |"
        )
    print(
        f"\ntraining steps/s (batch {args.batch_size}, median of 2 alternated): small cache {small_rate:.3f}, "
        f"large cache {large_rate:.3f}, ratio {large_rate / small_rate:.3f}"
    )
    keys = {"cache_gb": f"{cache_gb:.2f}", "storage": args.storage}
    for strategy, r in results.items():
        keys[f"peak_rss_gb_{strategy}"] = f"{r['peak_rss_gb']:.2f}"
    if "default" in results:
        keys["first_step_s"] = f"{results['default']['first_step_s']:.1f}"
    keys["steps_ratio"] = f"{large_rate / small_rate:.3f}"
    print(" ".join(f"{k}={v}" for k, v in keys.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
