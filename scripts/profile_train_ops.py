"""Where a training step's CPU time goes: TensorFlow op types ranked by time, one table.

Runs a few training steps of `cunet.training.step.waveform_model` on a synthetic batch, traces
one under `tf.profiler`, and sums the traced kernel time per op type (ops on the two inter-op
threads overlap, so the sum exceeds the wall time).

    .venv/bin/python scripts/profile_train_ops.py --config cunet-simple-dense --batch-size 64
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from bench_train import synthetic_batch  # noqa: E402  (scripts/ is on sys.path)

import cunet  # noqa: E402,F401  (cunet's TensorFlow CPU settings apply before TensorFlow loads)

# wrappers of the executor and of the Python call, not kernels
NOT_KERNELS = {
    "Process",
    "one_step_on_data",
    "EagerExecute",
    "TFE_Py_ExecuteCancelable",
    "EagerKernelExecute",
    "Run",
    "ParallelFor",
    "FunctionRun",
    "EagerLocalExecute",
}


def op_times(logdir: Path) -> dict:
    """Traced seconds per op type from the XSpace file `tf.profiler` wrote under `logdir`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    space.ParseFromString(next(logdir.rglob("*.xplane.pb")).read_bytes())
    seconds = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "")
                op = name.rsplit(":", 1)[-1].strip()
                if op and op not in NOT_KERNELS and not op.startswith("__inference"):
                    seconds[op] += event.duration_ps / 1e12
    return seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cunet-simple-dense")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args(argv)

    import tensorflow as tf

    from cunet.config import load_config
    from cunet.kernels.switch import use_cpu_kernels
    from cunet.model.unet import build_model
    from cunet.training.step import waveform_model

    config = load_config(args.config)
    x, target = synthetic_batch(config, args.batch_size)
    model = waveform_model(use_cpu_kernels(build_model(config, compile=False)), config)
    for _ in range(2):
        model.train_on_batch(x, target)
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        started = time.perf_counter()
        model.train_on_batch(x, target)
        wall = time.perf_counter() - started
        tf.profiler.experimental.stop()
        seconds = op_times(Path(logdir))
    total = sum(seconds.values())
    print(f"{config.name}, batch {args.batch_size}: step wall {wall:.2f} s, traced kernel time {total:.2f} s")
    print(f"{'op type':<40} {'seconds':>8} {'share':>7}")
    for op, value in seconds.most_common(args.top):
        print(f"{op:<40} {value:>8.3f} {value / total:>7.1%}")
    conv = sum(v for op, v in seconds.items() if "Conv2D" in op)
    print(f"conv_share={conv / total:.3f} step_seconds={wall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
