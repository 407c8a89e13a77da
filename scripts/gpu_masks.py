"""Mask network throughput on Keras' JAX backend and the projected real-time factor of a song.

`cunet.separation.jax_masks.JaxMasks` of a model (default: the shipped one) times batches of
random patches at several batch sizes (median of --repeats calls after a compiling call); the
song projection counts the patches `cunet.separation.grid.PatchLayout` lays over a --seconds
stereo song (one instrument, overlap 0.25) and divides the song's length by their mask time at
the best batch size: the mask network's share of separation, the rest being NumPy on the host.

    KERAS_BACKEND=jax python scripts/gpu_masks.py --json masks.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a cunet .keras file (default: the shipped model)")
    parser.add_argument("--batch-sizes", default="16,64,256")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=180.0, help="song length of the projection")
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import numpy as np

    from cunet.separation.grid import PatchLayout
    from cunet.separation.runtimes import load_masks

    rows = []
    for size in (int(b) for b in args.batch_sizes.split(",")):
        masks, config = load_masks(args.model, "jax", batch_size=size)
        p = config.patch
        patches = np.random.default_rng(0).uniform(0, 1, (size, p.freq_bins, p.frames, 1)).astype(np.float32)
        condition = np.eye(len(config.instruments), dtype=np.float32)[-1] if config.conditioned else None
        masks(patches, condition)  # compiles
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            masks(patches, condition)
            times.append(time.perf_counter() - start)
        rows.append({"batch_size": size, "patches_per_s": size / statistics.median(times)})
        print(f"batch {size:>4}: {rows[-1]['patches_per_s']:.1f} patches/s", flush=True)
    a = config.audio
    frames = int(args.seconds * a.sample_rate) // a.hop_length + 1
    patches_per_song = 2 * PatchLayout.from_config(config.patch, 0.25).count(frames)  # stereo, one instrument
    best = max(rows, key=lambda r: r["patches_per_s"])
    factor = args.seconds / (patches_per_song / best["patches_per_s"])
    device = jax.devices()[0]
    result = {
        "device": getattr(device, "device_kind", str(device)),
        "platform": device.platform,
        "model": config.name,
        "rows": rows,
        "song_seconds": args.seconds,
        "patches_per_song": patches_per_song,
        "realtime_factor": factor,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    print(
        f"mask_patches_per_s={best['patches_per_s']:.1f} batch={best['batch_size']} "
        f"patches_per_{args.seconds:.0f}s_stereo_song={patches_per_song} realtime_factor={factor:.0f} "
        f"device={result['device'].replace(' ', '_')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
