"""Training step time with cunet's layers against Keras' own, alternating in one process.

Builds the same config with three sets of layers: Keras' (BatchNormalization, Conv2D,
Conv2DTranspose: the model as `cunet.model.unet.UNet` builds and saves it), Keras' convolutions
with `cunet.kernels.batchnorm.FusedBatchNorm`, and the CPU forms `cunet.kernels.switch.
use_cpu_kernels` gives on a CPU (FusedBatchNorm and `cunet.kernels.convolutions`' StridedConv2D
and StridedConv2DTranspose). It alternates `train_on_batch` on one synthetic batch between the
models, so that all see the same machine load, and prints one table, then
`keras_step_s=<float> fused_batchnorm_step_s=<float> cunet_step_s=<float> speedup=<float>`
(medians; speedup = Keras' layers / cunet's).

    .venv/bin/python scripts/bench_layers.py --config cunet-simple-dense --steps 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from bench_train import synthetic_batch  # noqa: E402  (scripts/ is on sys.path)

import cunet  # noqa: E402,F401  (cunet's TensorFlow CPU settings apply before TensorFlow loads)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cunet-simple-dense")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model")
    args = parser.parse_args(argv)

    import keras

    from cunet.config import load_config
    from cunet.kernels.batchnorm import FusedBatchNorm
    from cunet.kernels.switch import use_cpu_kernels
    from cunet.model.unet import build_model
    from cunet.training.step import waveform_model

    def fused_batchnorm_only(model):
        def clone(layer):
            kind = FusedBatchNorm if type(layer) is keras.layers.BatchNormalization else type(layer)
            return kind.from_config(layer.get_config())

        fast = keras.models.clone_model(model, clone_function=clone)
        fast.set_weights(model.get_weights())
        return fast

    config = load_config(args.config)
    x, target = synthetic_batch(config, args.batch_size)
    variants = {
        "keras": ("Keras' layers", lambda model: model),
        "fused_batchnorm": ("FusedBatchNorm, Keras' convolutions", fused_batchnorm_only),
        "cunet": ("FusedBatchNorm, Strided convolutions (use_cpu_kernels)", lambda m: use_cpu_kernels(m, "cpu")),
    }
    models = {}
    for name, (_, layers) in variants.items():
        keras.utils.set_random_seed(0)
        models[name] = waveform_model(layers(build_model(config, compile=False)), config)
        models[name].train_on_batch(x, target)  # traced and warmed up
    times = {name: [] for name in models}
    for _ in range(args.steps):
        for name, model in models.items():
            started = time.perf_counter()
            model.train_on_batch(x, target)
            times[name].append(time.perf_counter() - started)

    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"| {config.name}, batch {args.batch_size} | median step | patches/s | vs Keras' layers | steps (s) |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, (label, _) in variants.items():
        print(
            f"| {label} | {medians[name]:.3f} s | {args.batch_size / medians[name]:.2f} | "
            f"{medians['keras'] / medians[name]:.3f}x | {' '.join(f'{t:.2f}' for t in times[name])} |"
        )
    print(
        " ".join(f"{name}_step_s={medians[name]:.3f}" for name in variants)
        + f" speedup={medians['keras'] / medians['cunet']:.3f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
