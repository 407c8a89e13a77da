"""Training speed on Keras' JAX backend (`bench_train.py --backend jax`; no TensorFlow needed).

For each config and precision (float32, mixed bfloat16, mixed float16): training patches/s of
the model behind its spectral front end (`cunet.training.step.waveform_model`, as `cunet train`)
on one synthetic batch held on the device, timed as the median of --steps calls of the
jit-compiled Keras train step (`trainer.train_step`, state donated, as `fit` runs it) after a
warm-up; the achieved TFLOP/s (a step = 3x the forward FLOPs of `cunet.model.info`), the
device's measured dense peak in the same compute dtype (a large matmul) and the fraction of
it, and the device's peak memory (JAX's allocator statistics; n/a on CPU).

    KERAS_BACKEND=jax python scripts/bench_train_jax.py --configs cunet-simple-dense

The last line is `jax_train_patches_per_s=... precision=... peak_tflops=... fraction_of_peak=...
peak_memory_gb=... device=...` for the first config at its best precision; `--json PATH` also
writes every row.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

PRECISIONS = {"float32": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}


def device_facts() -> dict:
    import jax

    device = jax.devices()[0]
    return {
        "platform": device.platform,
        "device": getattr(device, "device_kind", str(device)),
        "count": jax.device_count(),
        "jax": jax.__version__,
    }


def peak_tflops(dtype: str, n: int, repeats: int) -> float:
    """TFLOP/s of an n^3 matmul in `dtype` (float32 with JAX's default precision)."""
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.key(0), (n, n), dtype)
    b = jax.random.normal(jax.random.key(1), (n, n), dtype)
    matmul = jax.jit(lambda a, b: (a @ b).sum(dtype=jnp.float32))
    matmul(a, b).block_until_ready()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        matmul(a, b).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e12


def peak_memory_gb() -> float | None:
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 1e9


def training_rate(config, batch_size: int, steps: int, policy: str) -> float:
    """Patches/s of the jit-compiled train step on one device-resident synthetic batch."""
    import jax
    import keras
    import numpy as np

    from cunet.model.unet import build_model
    from cunet.training.sampler import chunk_samples
    from cunet.training.step import waveform_model

    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        trainer = waveform_model(build_model(config, compile=False), config, jit_compile=True)
    finally:
        keras.config.set_dtype_policy("float32")
    rng = np.random.default_rng(0)
    mixture = rng.standard_normal((batch_size, chunk_samples(config)), dtype=np.float32) * 0.1
    n = len(config.instruments)
    x = [mixture, np.eye(n, dtype=np.float32)[rng.integers(0, n, batch_size)]] if config.conditioned else mixture
    trainer.train_on_batch(x, 0.5 * mixture)  # builds optimizer and metrics variables
    state = tuple(
        [v.value for v in group]
        for group in (
            trainer.trainable_variables,
            trainer.non_trainable_variables,
            trainer.optimizer.variables,
            trainer.metrics_variables,
        )
    )
    data = jax.device_put((x, 0.5 * mixture))
    step = jax.jit(trainer.train_step, donate_argnums=0)
    for _ in range(2):
        logs, state = step(state, data)
    jax.block_until_ready(logs)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        logs, state = step(state, data)
        jax.block_until_ready(logs)
        times.append(time.perf_counter() - start)
    assert np.isfinite(float(logs["loss"])), logs
    return batch_size / statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="cunet-simple-dense", help="comma-separated config names or paths")
    parser.add_argument("--batch-size", type=int, default=64, help="the paper's batch by default")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per row")
    parser.add_argument("--precisions", default="float32,bfloat16,float16", help=f"of {', '.join(PRECISIONS)}")
    parser.add_argument("--peak-size", type=int, default=8192, help="n of the n^3 peak matmul")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write every row as JSON")
    parser.add_argument("--backend", default="jax", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)
    os.environ["KERAS_BACKEND"] = "jax"
    import keras

    if keras.backend.backend() != "jax":
        print(f"bench_train_jax: Keras already runs {keras.backend.backend()}", file=sys.stderr)
        return 2
    from cunet.config import load_config
    from cunet.model.info import model_info
    from cunet.model.unet import build_model

    facts = device_facts()
    print(f"device: {facts['device']} ({facts['platform']}, {facts['count']} device(s)), jax {facts['jax']}")
    precisions = args.precisions.split(",")
    peaks = {p: peak_tflops("float32" if p == "float32" else p, args.peak_size, 5) for p in precisions}
    print("measured dense peak (matmul): " + ", ".join(f"{p} {t:.2f} TFLOP/s" for p, t in peaks.items()))
    header = f"{'config':<22} {'precision':<9} {'GFLOP/patch':>11} {'patches/s':>10} {'TFLOP/s':>8} {'of peak':>8}"
    print(header + "\n" + "-" * len(header))
    rows = []
    for name in args.configs.split(","):
        config = load_config(name)
        flops = model_info(build_model(config, compile=False)).flops_per_patch
        for precision in precisions:
            rate = training_rate(config, args.batch_size, args.steps, PRECISIONS[precision])
            tflops = rate * 3 * flops / 1e12
            rows.append(
                {
                    "config": config.name,
                    "precision": precision,
                    "batch_size": args.batch_size,
                    "patches_per_s": rate,
                    "tflops": tflops,
                    "peak_tflops": peaks[precision],
                    "fraction_of_peak": tflops / peaks[precision],
                }
            )
            print(
                f"{config.name:<22} {precision:<9} {flops / 1e9:>11.3f} {rate:>10.1f} {tflops:>8.2f} "
                f"{tflops / peaks[precision]:>8.1%}",
                flush=True,
            )
    memory = peak_memory_gb()
    best = max((r for r in rows if r["config"] == rows[0]["config"]), key=lambda r: r["patches_per_s"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": facts, "peak_memory_gb": memory, "rows": rows}, f, indent=1)
    print(
        f"jax_train_patches_per_s={best['patches_per_s']:.1f} precision={best['precision']} "
        f"peak_tflops={best['peak_tflops']:.2f} fraction_of_peak={best['fraction_of_peak']:.4f} "
        f"peak_memory_gb={'n/a' if memory is None else f'{memory:.2f}'} device={facts['device'].replace(' ', '_')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
