"""Training speed: patches/s, FLOP/s against this machine's measured dense peak, pipeline cost.

For each config: training patches/s on one synthetic in-memory batch (the model alone) and
through the real `cunet.training.data.training_dataset` pipeline (needs --data, a cache made by
`cunet prepare` for that config's audio settings), with and without XLA (--jit), the
forward FLOPs per patch (`cunet.model.info`; a training step is counted as 3x forward),
the achieved GFLOP/s and their fraction of the measured peak (a large float32 matmul and a
large float32 Conv2D, best of both). Step rates are medians of --steps step times inside one
`fit`; the model trains behind its spectral front end (`cunet.training.step`), so a step
includes the STFTs of its batch, as in `cunet train`.

    python scripts/bench_train.py --data ../runs/musdb-mini-cache

A "convs only" row per config times the step's convolutions alone, layer by layer
(`convolution_seconds`): an estimate of what a step made of these kernels alone would reach.

The last line is `train_patches_per_s=... peak_gflops=... fraction_of_peak=...
convolutions_only_fraction_of_peak=...` for the default config (synthetic batch, no XLA).

`--backend jax` runs `scripts/bench_train_jax.py` instead (Keras' JAX backend, no TensorFlow:
float32 and mixed precision, the device's measured peak in the same dtype, peak device memory);
its options follow `--backend jax`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import cunet  # noqa: E402,F401  (cunet's TensorFlow CPU settings apply before TensorFlow loads)


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_peak(repeats: int) -> dict:
    """GFLOP/s of a 2048^3 float32 matmul and a 5x5 64->64 Conv2D on 8x256x128 maps."""
    import tensorflow as tf

    n = 2048
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul()
    t_mm = median_time(lambda: matmul().numpy(), repeats)
    x = tf.random.normal((8, 256, 128, 64))
    k = tf.random.normal((5, 5, 64, 64))
    conv = tf.function(lambda: tf.reduce_sum(tf.nn.conv2d(x, k, 1, "SAME")))
    conv()
    t_conv = median_time(lambda: conv().numpy(), repeats)
    return {
        "matmul": 2 * n**3 / t_mm / 1e9,
        "conv": 2 * 5 * 5 * 64 * 64 * 8 * 256 * 128 / t_conv / 1e9,
    }


def training_rate(config, dataset, batch_size: int, steps: int, jit: bool) -> float:
    """Training patches/s of `fit` on `dataset`: the median of `steps` step times, timed
    inside one `fit` after two warm-up steps (no per-call start-up in the figure)."""
    import keras

    from cunet.kernels.switch import use_cpu_kernels
    from cunet.model.unet import build_model
    from cunet.training.step import waveform_model

    class StepTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_begin(self, batch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    keras.utils.set_random_seed(0)
    model = waveform_model(use_cpu_kernels(build_model(config, compile=False)), config, jit_compile=jit)
    timer = StepTimes()
    model.fit(dataset, steps_per_epoch=2 + steps, epochs=1, verbose=0, callbacks=[timer])
    return batch_size / statistics.median(timer.times[2:])


def convolution_seconds(model, batch_size: int, repeats: int) -> float:
    """Seconds per batch of the training step's convolution work alone: each Conv2D and
    Conv2DTranspose of `model` timed in isolation (forward, kernel and bias gradients, and the
    input gradient wherever the step needs one: not for a layer fed by a model input),
    medians summed. The forward output is returned too: the gradients of a linear layer do
    not depend on it, and TensorFlow would otherwise prune the forward pass. Each layer runs
    in its own call, so this estimates, and does not bound, what these kernels reach inside a
    step (`scripts/profile_train_onednn.py` measures that)."""
    import keras
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    total = 0.0
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose)):
            continue
        x = tf.constant(rng.standard_normal((batch_size, *layer.input.shape[1:]), dtype=np.float32))
        upstream = tf.constant(rng.standard_normal((batch_size, *layer.output.shape[1:]), dtype=np.float32))
        needs_input_gradient = all(layer.input is not t for t in model.inputs)

        @tf.function
        def step(x, upstream, layer=layer, needs_input_gradient=needs_input_gradient):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x)
            sources = [x] * needs_input_gradient + layer.trainable_weights
            return [y, *tape.gradient(y, sources, output_gradients=upstream)]

        step(x, upstream)
        total += median_time(lambda x=x, upstream=upstream: [g.numpy() for g in step(x, upstream)], repeats)
    return total


def pipeline_rate(dataset, batch_size: int, steps: int, repeats: int) -> float:
    iterator = iter(dataset)
    next(iterator)

    def pull():
        for _ in range(steps):
            next(iterator)

    return steps * batch_size / median_time(pull, repeats)


def synthetic_batch(config, batch_size: int):
    """One seeded training batch: (inputs, target) waveform chunks, inputs with conditions
    for a C-U-Net; the target is half the mixture."""
    import numpy as np

    from cunet.training.data import chunk_samples

    rng = np.random.default_rng(0)
    mixture = rng.standard_normal((batch_size, chunk_samples(config)), dtype=np.float32)
    if not config.conditioned:
        return mixture, 0.5 * mixture
    n = len(config.instruments)
    return (mixture, np.eye(n, dtype=np.float32)[rng.integers(0, n, batch_size)]), 0.5 * mixture


def synthetic_dataset(config, batch_size: int):
    import tensorflow as tf

    return tf.data.Dataset.from_tensors(synthetic_batch(config, batch_size)).repeat()


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs",
        default="cunet-simple-dense,cunet-default-small",
        help="comma-separated config names or paths (the first is 'the default')",
    )
    parser.add_argument("--paper", action="store_true", help="add all five paper configs")
    parser.add_argument(
        "--data", default=None, metavar="CACHE_DIR", help="a `cunet prepare` cache for the real-pipeline rows"
    )
    parser.add_argument("--batch-size", type=int, default=64, help="the paper's batch by default")
    parser.add_argument("--steps", type=int, default=8, help="timed training steps per row")
    parser.add_argument("--repeats", type=int, default=3, help="timings of the peak and the pipeline")
    parser.add_argument("--jit", action="store_true", help="also time XLA-compiled training")
    parser.add_argument(
        "--jit-steps", type=int, default=3, help="timed steps per XLA row (XLA convolutions are slow on CPU)"
    )
    parser.add_argument(
        "--conv-repeats", type=int, default=5, help="timings per layer of the convolutions-alone row (0: skip it)"
    )
    parser.add_argument(
        "--backend",
        default="tensorflow",
        choices=("tensorflow", "jax"),
        help="jax: scripts/bench_train_jax.py (see its --help)",
    )
    parser.add_argument("--threads", type=int, default=0, help="TensorFlow intra-op threads (0: TensorFlow's default)")
    args = parser.parse_args(argv)
    return args


def config_names(args) -> list:
    """--configs, then the five paper configs not among them with --paper."""
    names = args.configs.split(",")
    if args.paper:
        names += [
            name
            for name in (
                "unet-dedicated",
                "cunet-simple-dense",
                "cunet-complex-dense",
                "cunet-simple-cnn",
                "cunet-complex-cnn",
            )
            if name not in names
        ]
    return names


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if "--backend" in argv and argv[argv.index("--backend") + 1 :][:1] == ["jax"] or "--backend=jax" in argv:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import bench_train_jax  # before TensorFlow or Keras load: it selects Keras' JAX backend

        return bench_train_jax.main(argv)
    args = parse_arguments(argv)

    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    from cunet.config import load_config
    from cunet.kernels.switch import use_cpu_kernels
    from cunet.model.info import model_info
    from cunet.model.unet import build_model

    names = config_names(args)
    peak = measure_peak(args.repeats)
    peak_gflops = max(peak.values())
    print(
        f"machine peak (float32, {os.cpu_count()} CPUs): matmul {peak['matmul']:.1f} GFLOP/s, "
        f"conv2d {peak['conv']:.1f} GFLOP/s -> peak {peak_gflops:.1f} GFLOP/s"
    )

    header = (
        f"{'config':<22} {'input':<10} {'xla':<4} {'GFLOP/patch':>11} {'patches/s':>10} "
        f"{'GFLOP/s':>8} {'of peak':>8} {'pipeline':>10}"
    )
    print(header)
    print("-" * len(header))
    summary = None
    ceiling = float("nan")
    for name in names:
        config = load_config(name)
        unet = build_model(config, compile=False)
        flops = model_info(unet).flops_per_patch
        train_flops = 3 * flops
        if args.conv_repeats:
            rate = args.batch_size / convolution_seconds(use_cpu_kernels(unet), args.batch_size, args.conv_repeats)
            gflops = rate * train_flops / 1e9
            print(
                f"{config.name:<22} {'convs only':<10} {'no':<4} {flops / 1e9:>11.3f} {rate:>10.2f} "
                f"{gflops:>8.1f} {gflops / peak_gflops:>8.1%} {'':>10}",
                flush=True,
            )
            if name == names[0]:
                ceiling = gflops / peak_gflops
        sources = [("synthetic", synthetic_dataset(config, args.batch_size))]
        if args.data:
            from cunet.training.data import training_dataset

            sources.append(("pipeline", training_dataset(config, args.data, batch_size=args.batch_size)))
        for source, dataset in sources:
            for jit in [False, True] if args.jit else [False]:
                rate = training_rate(config, dataset, args.batch_size, args.jit_steps if jit else args.steps, jit)
                gflops = rate * train_flops / 1e9
                feed = ""
                if source == "pipeline" and not jit:
                    feed_rate = pipeline_rate(dataset, args.batch_size, 4 * args.steps, args.repeats)
                    feed = f"{feed_rate:>7.0f}/s"
                    print(
                        f"{'':<22} pipeline alone: {feed_rate:.1f} patches/s; as a share of a "
                        f"training step: {rate / feed_rate:.1%}"
                    )
                print(
                    f"{config.name:<22} {source:<10} {'yes' if jit else 'no':<4} {flops / 1e9:>11.3f} "
                    f"{rate:>10.2f} {gflops:>8.1f} {gflops / peak_gflops:>8.1%} {feed:>10}",
                    flush=True,
                )
                if summary is None:
                    summary = (rate, gflops / peak_gflops)
    rate, fraction = summary
    print(
        f"train_patches_per_s={rate:.3f} peak_gflops={peak_gflops:.3f} fraction_of_peak={fraction:.4f} "
        f"convolutions_only_fraction_of_peak={ceiling:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
