"""Where a training step's convolution time goes: oneDNN primitives with their GFLOP/s, one table.

Runs a few training steps of `cunet.training.step.waveform_model` on a synthetic batch in a
child process with `ONEDNN_VERBOSE=1` and one inter-op thread (so that primitive times add up
to the step), and lists the primitives oneDNN executed during the last step: time per kind
(convolution forward / backward data / backward weights, matrix products, BatchNorm, ...),
then every convolution with its implementation, shape and achieved GFLOP/s.

    .venv/bin/python scripts/profile_train_onednn.py --config cunet-simple-dense --batch-size 64
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys

MARK = "=== timed step ==="


def child(config_name: str, batch_size: int) -> None:
    from bench_train import synthetic_batch  # scripts/ is on sys.path

    import cunet  # noqa: F401  (cunet's TensorFlow CPU settings apply before TensorFlow loads)
    from cunet.config import load_config
    from cunet.kernels.switch import use_cpu_kernels
    from cunet.model.unet import build_model
    from cunet.training.step import waveform_model

    config = load_config(config_name)
    x, target = synthetic_batch(config, batch_size)
    model = waveform_model(use_cpu_kernels(build_model(config, compile=False)), config)
    for _ in range(3):
        model.train_on_batch(x, target)
    print(MARK, flush=True)
    model.train_on_batch(x, target)
    print(MARK, flush=True)


def conv_gflop(shape: str) -> float:
    """FLOPs of a convolution from oneDNN's descriptor, e.g. mb64_ic16oc32_ih256oh128kh5..."""
    d = {key: int(value) for key, value in re.findall(r"([a-z]+)(\d+)", shape)}
    return 2 * d["mb"] * d["ic"] * d["oc"] * d["oh"] * d["ow"] * d["kh"] * d["kw"] / 1e9


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cunet-simple-dense")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.config, args.batch_size)
        return 0

    env = dict(os.environ, ONEDNN_VERBOSE="1", TF_NUM_INTEROP_THREADS="1", TF_CPP_MIN_LOG_LEVEL="2")
    command = [sys.executable, __file__, "--child", "--config", args.config, "--batch-size", str(args.batch_size)]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    step = out.split(MARK)[1].splitlines()
    kinds = collections.Counter()
    convolutions = []
    for line in step:
        fields = line.split(",")
        if not line.startswith("onednn_verbose") or "exec" not in fields:
            continue
        primitive, implementation, kind, shape, ms = fields[5], fields[6], fields[7], fields[-2], float(fields[-1])
        kinds[(primitive, kind)] += ms
        if primitive == "convolution":
            convolutions.append((ms, kind, implementation, shape, conv_gflop(shape) / ms * 1e3))
    total = sum(kinds.values())
    print(f"{args.config}, batch {args.batch_size}: oneDNN primitives of one training step, {total / 1e3:.3f} s")
    print(f"{'primitive':<42} {'seconds':>8} {'share':>7}")
    for (primitive, kind), ms in kinds.most_common():
        print(f"{primitive + ' ' + kind:<42} {ms / 1e3:>8.3f} {ms / total:>7.1%}")
    print(f"\n{'ms':>7} {'GFLOP/s':>8}  {'kind':<17} {'implementation':<22} shape")
    for ms, kind, implementation, shape, gflops in sorted(convolutions, reverse=True):
        print(f"{ms:>7.1f} {gflops:>8.1f}  {kind:<17} {implementation:<22} {shape}")
    conv_ms = sum(c[0] for c in convolutions)
    conv_gflop_total = sum(conv_gflop(c[3]) for c in convolutions)
    print(f"convolution_seconds={conv_ms / 1e3:.3f} convolution_gflops={conv_gflop_total / conv_ms * 1e3:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
