"""Training step time with `cunet.batchnorm.FusedBatchNorm` against Keras' BatchNormalization.

Builds the same config twice, once with the fused layer (what `cunet.models` uses) and once
with `keras.layers.BatchNormalization`, and alternates `train_on_batch` on one synthetic batch
between the two models in one process, so that both see the same machine load. Prints one
table, then `keras_step_s=<float> fused_step_s=<float> speedup=<float>` (medians).

    .venv/bin/python scripts/bench_batchnorm.py --config cunet-simple-dense --steps 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import cunet  # noqa: E402,F401  (cunet's TensorFlow CPU settings apply before TensorFlow loads)
from bench_train import synthetic_batch  # noqa: E402  (scripts/ is on sys.path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cunet-simple-dense")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per model")
    args = parser.parse_args(argv)

    import keras

    import cunet.models
    from cunet.config import load_config
    from cunet.training_step import waveform_model

    config = load_config(args.config)
    x, target = synthetic_batch(config, args.batch_size)

    models = {}
    for name, layer in (("fused", cunet.models.FusedBatchNorm), ("keras", keras.layers.BatchNormalization)):
        cunet.models.FusedBatchNorm = layer  # the class `cunet.models` builds its blocks with
        keras.utils.set_random_seed(0)
        models[name] = waveform_model(cunet.models.build_model(config, compile=False), config)
        models[name].train_on_batch(x, target)  # traced and warmed up
    times = {name: [] for name in models}
    for _ in range(args.steps):
        for name, model in models.items():
            started = time.perf_counter()
            model.train_on_batch(x, target)
            times[name].append(time.perf_counter() - started)

    keras_s, fused_s = statistics.median(times["keras"]), statistics.median(times["fused"])
    print(f"| {config.name}, batch {args.batch_size} | median step | patches/s | steps (s) |")
    print("| --- | ---: | ---: | --- |")
    for name, label in (("keras", "keras.layers.BatchNormalization"), ("fused", "cunet FusedBatchNorm")):
        step = statistics.median(times[name])
        print(f"| {label} | {step:.3f} s | {args.batch_size / step:.2f} | "
              f"{' '.join(f'{t:.2f}' for t in times[name])} |")
    print(f"keras_step_s={keras_s:.3f} fused_step_s={fused_s:.3f} speedup={keras_s / fused_s:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
