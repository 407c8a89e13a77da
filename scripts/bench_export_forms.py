"""The two exact forms of a decoder block's transposed convolution under LiteRT (XNNPACK).

For every decoder block of a config's model (default: the embedded model's), one TFLite model
per form, the block alone: the sub-pixel form (one stride-1 convolution of 4 x filters outputs,
36 taps for a 5x5 kernel, 11 of them zero) and the per-phase form (one convolution per output
phase, 25 taps, joined by a concatenation); then the whole exported mask network with the
phase form where `cunet.kernels.folded.PHASES_MIN_FILTERS` allows it (the export) against the
sub-pixel form everywhere. Batch 16 patches, `--threads` threads, median of `--runs` invokes,
forms alternated. Prints one table and a last line key=value.

    .venv/bin/python scripts/bench_export_forms.py
    .venv/bin/python scripts/bench_export_forms.py --config cunet-simple-dense --model paper
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
REPO = Path(__file__).resolve().parents[1]


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "unknown"


def interpreter(flatbuffer: bytes, shapes: dict, threads: int):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=flatbuffer, num_threads=threads)
    for detail in it.get_input_details():
        name = next((n for n in shapes if n in detail["name"]), None)
        it.resize_tensor_input(detail["index"], shapes[name], strict=True)
    it.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in it.get_input_details():
        shape = detail["shape"]
        it.set_tensor(detail["index"], rng.uniform(0, 1, shape).astype(np.float32))
    return it


def timed(interpreters: dict, runs: int) -> dict:
    """Median seconds of one invoke per interpreter, alternated."""
    times = {name: [] for name in interpreters}
    for it in interpreters.values():
        it.invoke()  # XNNPACK packs weights on the first call
    for _ in range(runs):
        for name, it in interpreters.items():
            started = time.perf_counter()
            it.invoke()
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def block_model(form: str, shape: tuple, kernel: np.ndarray) -> bytes:
    import tensorflow as tf

    from cunet.kernels.convolutions import conv_transpose_subpixel
    from cunet.kernels.folded import conv_transpose_phases

    bias = np.zeros(kernel.shape[2], np.float32)

    def call(x):
        if form == "phases":
            return conv_transpose_phases(x, kernel, bias, relu=True)
        return conv_transpose_subpixel(x, tf.constant(kernel), tf.constant(bias), relu=True)

    concrete = tf.function(
        call, input_signature=[tf.TensorSpec((None, *shape), tf.float32, name="x")]
    ).get_concrete_function()
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete]).convert()


def decoder_shapes(config) -> list:
    """(input (h, w, in), filters) of each decoder block, deepest first."""
    import keras

    from cunet.model.unet import build_model

    model = build_model(config, compile=False)
    return [
        (tuple(layer.input.shape[1:]), layer.filters)
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2DTranspose)
    ]


def whole_network(model, config, phases_min_filters: int, path: Path) -> bytes:
    from cunet.kernels import folded
    from cunet.model.export import export_tflite

    saved = folded.PHASES_MIN_FILTERS
    folded.PHASES_MIN_FILTERS = phases_min_filters
    try:
        return export_tflite(model, config, path).read_bytes()
    finally:
        folded.PHASES_MIN_FILTERS = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="cunet-default-small", help="config whose decoder shapes are timed")
    parser.add_argument("--model", default="default", help="default (embedded model) or paper (random weights)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()

    from cunet.config import load_config
    from cunet.kernels.folded import PHASES_MIN_FILTERS

    config = load_config(args.config)
    rng = np.random.default_rng(1)
    rows = []
    for (h, w, channels), filters in decoder_shapes(config):
        k = config.model.kernel_size
        kernel = (rng.standard_normal((k, k, filters, channels)) / np.sqrt(k * k * channels)).astype(np.float32)
        models = {
            form: interpreter(
                block_model(form, (h, w, channels), kernel), {"x": (args.batch, h, w, channels)}, args.threads
            )
            for form in ("subpixel", "phases")
        }
        t = timed(models, args.runs)
        chosen = "phases" if filters >= PHASES_MIN_FILTERS else "subpixel"
        rows.append((f"{h}x{w}, {channels} -> {filters} filters", t["subpixel"], t["phases"], chosen))

    import cunet

    if args.model == "default":
        model, config = cunet.load_model(REPO / "cunet" / "pretrained" / "cunet-default.keras")
    else:
        from cunet.model.unet import build_model

        model = build_model(config, compile=False)
    with tempfile.TemporaryDirectory(prefix="cunet-forms-") as tmp:
        p = config.patch
        shapes = {
            "magnitude": (args.batch, p.freq_bins, p.frames, 1),
            "condition": (args.batch, len(config.instruments)),
        }
        nets = {
            name: interpreter(
                whole_network(model, config, threshold, Path(tmp) / f"{name}.tflite"), shapes, args.threads
            )
            for name, threshold in (("subpixel", 1 << 30), ("export", PHASES_MIN_FILTERS))
        }
        whole = timed(nets, args.runs)

    print(
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; batch {args.batch}, {args.threads} threads, "
        f"median of {args.runs}; config {config.name}"
    )
    print("| decoder block (input, filters) | sub-pixel (ms) | per phase (ms) | per phase / sub-pixel | export takes |")
    print("| --- | ---: | ---: | ---: | --- |")
    for label, sub, ph, chosen in rows:
        print(f"| {label} | {sub * 1e3:.2f} | {ph * 1e3:.2f} | {ph / sub:.2f} | {chosen} |")
    print(
        f"| whole mask network ({args.model} model) | {whole['subpixel'] * 1e3:.2f} | {whole['export'] * 1e3:.2f} "
        f"| {whole['export'] / whole['subpixel']:.2f} | (export: per phase for >= {PHASES_MIN_FILTERS} filters) |"
    )
    print(
        f"network_subpixel_ms={whole['subpixel'] * 1e3:.2f} network_export_ms={whole['export'] * 1e3:.2f} "
        f"export_speedup={whole['subpixel'] / whole['export']:.3f}"
    )


if __name__ == "__main__":
    main()
