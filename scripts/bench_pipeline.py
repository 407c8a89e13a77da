"""Benchmark: input pipeline patches/s against training-step patches/s, in one run.

    .venv/bin/python scripts/bench_pipeline.py --musdb-root ../shared/musdb-mini

Builds (once) a stem cache of the MUSDB18 root for the config under `.cache/`, then times
(1) the training `tf.data` pipeline alone (iterating batches of waveform chunks) and (2)
training steps alone (`train_on_batch` of the model behind its spectral front end,
`cunet.training.step.waveform_model`, on one in-memory batch: the step includes the STFTs
of mixture and target, as in training). Prints one table, then
`pipeline_patches_per_s=<float> train_patches_per_s=<float> ratio=<float>`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--musdb-root", type=Path, default=REPO.parent / "shared" / "musdb-mini")
    parser.add_argument("--is-wav", action="store_true")
    parser.add_argument("--config", default="cunet-simple-dense")
    parser.add_argument("--cache", type=Path, default=None, help="cache folder (default .cache/bench-<config>)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--pipeline-batches", type=int, default=40, help="batches timed per repeat")
    parser.add_argument("--train-steps", type=int, default=3, help="train steps timed per repeat")
    parser.add_argument("--repeats", type=int, default=3)
    return parser.parse_args(argv)


def time_pipeline(dataset, batches: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) to pull `batches` batches, after a warm-up."""
    iterator = iter(dataset)
    for _ in range(3):
        next(iterator)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(iterator)
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    from cunet.config import config_hash, load_config
    from cunet.errors import CunetError
    from cunet.kernels.switch import use_cpu_kernels
    from cunet.model.unet import build_model
    from cunet.training.cache import prepare_cache
    from cunet.training.data import load_bank, training_dataset
    from cunet.training.step import waveform_model

    config = load_config(args.config)
    cache_dir = args.cache or REPO / ".cache" / f"bench-{config.name}-{config_hash(config)}"
    try:
        cache = prepare_cache(args.musdb_root, config, cache_dir, is_wav=args.is_wav, progress=True)
    except CunetError as exc:
        print(f"bench_pipeline: error: {exc}", file=sys.stderr)
        return 2
    bank = load_bank(cache, "train", config)
    batch = args.batch_size

    timings = {}
    for jit in (True, False):
        dataset = training_dataset(config, cache, batch_size=batch, seed=0, bank=bank, jit=jit)
        timings[jit] = [time_pipeline(dataset, args.pipeline_batches) for _ in range(args.repeats)]
    pipeline_rates = [batch * args.pipeline_batches / wall for wall, _ in timings[True]]
    per_cpu = {
        jit: statistics.median(batch * args.pipeline_batches / cpu for _, cpu in runs) for jit, runs in timings.items()
    }
    plain = statistics.median(batch * args.pipeline_batches / wall for wall, _ in timings[False])
    dataset = training_dataset(config, cache, batch_size=batch, seed=0, bank=bank)

    model = waveform_model(use_cpu_kernels(build_model(config, compile=False)), config)
    x, y = next(iter(dataset))
    x = tuple(np.asarray(t) for t in x) if isinstance(x, tuple) else np.asarray(x)
    y = np.asarray(y)
    model.train_on_batch(x, y)  # compile the step
    train_rates, train_per_cpu = [], []
    for _ in range(args.repeats):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.train_steps):
            model.train_on_batch(x, y)
        train_rates.append(batch * args.train_steps / (time.perf_counter() - start))
        train_per_cpu.append(batch * args.train_steps / (time.process_time() - cpu))

    pipeline = statistics.median(pipeline_rates)
    train = statistics.median(train_rates)
    rows = [
        ("config", config.name),
        ("patch", f"{config.patch.freq_bins} x {config.patch.frames}, batch {batch}"),
        ("cache (train split in memory)", f"{len(bank.names)} tracks, {cache.nbytes('train') / 2**20:.1f} MiB"),
        ("pipeline patches/s (median of runs)", f"{pipeline:.1f}  " + " ".join(f"{r:.0f}" for r in pipeline_rates)),
        ("  per CPU-second (load-independent)", f"{per_cpu[True]:.1f}"),
        ("pipeline without XLA, patches/s", f"{plain:.1f}  (per CPU-second {per_cpu[False]:.1f})"),
        ("train-step patches/s (median of runs)", f"{train:.2f}  " + " ".join(f"{r:.1f}" for r in train_rates)),
        ("  per CPU-second (load-independent)", f"{statistics.median(train_per_cpu):.2f}"),
        ("ratio pipeline / training", f"{pipeline / train:.1f}"),
        ("ratio per CPU-second", f"{per_cpu[True] / statistics.median(train_per_cpu):.1f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print("\n".join(f"{k:<{width}}  {v}" for k, v in rows))
    print(f"pipeline_patches_per_s={pipeline:.1f} train_patches_per_s={train:.2f} ratio={pipeline / train:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
