"""Train a C-U-Net on Keras' JAX backend from a stem cache, without TensorFlow, for a time budget.

Batches come from `cunet.training.sampler` (NumPy, the tf.data pipeline's procedure), rendered
by --workers threads ahead of the device; the step is the Keras train step of
`cunet.training.step.waveform_model`, jit-compiled with its state donated (as `fit` runs it).
Stops after --steps steps or --minutes of training, then writes into --out: `model.keras`
(`cunet.model.files.save_model`, config embedded: it loads and separates on TensorFlow, LiteRT
or JAX, and `cunet evaluate` scores it on CPU), `training.csv` (step, seconds, loss every
--log-every steps, validation loss at the end) and `summary.json`.

    KERAS_BACKEND=jax python scripts/gpu_train.py --cache CACHE --config cunet-simple-dense \
        --out OUT --minutes 3 --precision bfloat16
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import threading
import time
from pathlib import Path

PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def prefetched(make, workers: int, depth: int):
    """An endless iterator over `make(i)` results computed by `workers` threads (order kept per
    worker turn)."""
    queues = [queue.Queue(depth) for _ in range(workers)]

    def work(k):
        i = k
        while True:
            queues[k].put(make(i))
            i += workers

    for k in range(workers):
        threading.Thread(target=work, args=(k,), daemon=True).start()
    k = 0
    while True:
        yield queues[k].get()
        k = (k + 1) % workers


def timed_steps(step, state, batches, args, log: list, done: int):
    """Train until `args.steps` steps or `args.minutes`, appending a CSV line to `log` every
    `args.log_every` steps: (state, steps done, seconds)."""
    import jax

    start = time.perf_counter()
    while done < args.steps and time.perf_counter() - start < args.minutes * 60:
        logs, state = step(state, jax.device_put(next(batches)))
        done += 1
        if done % args.log_every == 0:
            log.append(f"{done},{time.perf_counter() - start:.2f},{float(logs['loss']):.6f}")
            print(log[-1], flush=True)
    jax.block_until_ready(state)
    return state, done, time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", required=True)
    parser.add_argument("--config", default="cunet-simple-dense")
    parser.add_argument("--out", required=True)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--batch-size", type=int, default=None, help="default: the config's")
    parser.add_argument("--precision", default="bfloat16", choices=tuple(PRECISIONS))
    parser.add_argument("--workers", type=int, default=max(1, min(8, (os.cpu_count() or 2) - 2)))
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras
    import numpy as np

    from cunet.config import load_config
    from cunet.model.files import save_model
    from cunet.model.unet import build_model
    from cunet.training.cache import open_cache
    from cunet.training.sampler import HostBank, element, render, sample_draws, validation_batches
    from cunet.training.step import waveform_model

    config = load_config(args.config)
    batch = int(args.batch_size or config.training.batch_size)
    cache = open_cache(args.cache, config)
    train_bank = HostBank.from_cache(cache, "train", config)
    valid_bank = HostBank.from_cache(cache, "valid", config) if cache.split("valid") else None

    def make(i):
        draws = sample_draws(np.random.default_rng([args.seed, i]), batch, train_bank, config)
        mixture, target = render(train_bank, draws, config)
        return element(config, mixture, draws["condition"], target)

    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy(PRECISIONS[args.precision])
    model = build_model(config, compile=False)
    trainer = waveform_model(model, config, jit_compile=True)
    keras.config.set_dtype_policy("float32")
    batches = prefetched(make, args.workers, 4)
    first = next(batches)
    trainer.train_on_batch(*first)  # builds optimizer and metrics variables
    groups = (
        trainer.trainable_variables,
        trainer.non_trainable_variables,
        trainer.optimizer.variables,
        trainer.metrics_variables,
    )
    state = tuple([v.value for v in group] for group in groups)
    step = jax.jit(trainer.train_step, donate_argnums=0)
    logs, state = step(state, jax.device_put(next(batches)))  # compiles: not timed
    jax.block_until_ready(state)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = ["step,seconds,loss"]
    state, done, seconds = timed_steps(step, state, batches, args, log, done=2)
    for group, values in zip(groups, state):
        for variable, value in zip(group, values):
            variable.assign(value)
    summary = {
        "config": config.name,
        "precision": args.precision,
        "batch_size": batch,
        "steps": done,
        "train_seconds": seconds,
        "patches_per_s": (done - 2) * batch / seconds,
        "device": getattr(jax.devices()[0], "device_kind", str(jax.devices()[0])),
    }
    if valid_bank is not None:
        losses = [float(trainer.test_on_batch(*b)) for b in validation_batches(config, valid_bank, batch)]
        summary["val_loss"] = float(np.mean(losses))
        log.append(f"{done},{seconds:.2f},val_loss={summary['val_loss']:.6f}")
    plain = build_model(config, compile=False)  # float32 layers: the file carries no mixed policy
    plain.set_weights(model.get_weights())
    save_model(plain, config, out / "model.keras")
    (out / "training.csv").write_text("\n".join(log) + "\n")
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    print("gpu_train " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in summary.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
