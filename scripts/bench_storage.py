"""Does 16-bit stem storage change training? Loss curves of one short run per `data.storage`.

Trains the same config from the same seed on the same cache once per storage type
(`cunet train`, default strategy), and once more in float32 from another seed as the measure
of noise, and prints the training and validation loss of every epoch side by side, with each
run's largest relative difference from the float32 run of seed 0.

    python scripts/bench_storage.py --data runs/musdb-mini-8k [--config cunet-simple-dense]
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from cunet.config import load_config, save_config

RUNS = (("float32", 0), ("float16", 0), ("int16", 0), ("float32", 1))  # (storage, seed)


def losses(run: Path) -> list[tuple[float, float]]:
    with (run / "training.csv").open() as f:
        return [(float(r["loss"]), float(r["val_loss"])) for r in csv.DictReader(f)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, type=Path, help="a stem cache made for --config")
    parser.add_argument("--config", default="cunet-simple-dense")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--steps-per-epoch", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    curves = {}
    with tempfile.TemporaryDirectory(prefix="cunet-bench-storage-") as work:
        for storage, seed in RUNS:
            config = load_config(args.config).replace(data={"storage": storage})
            path = Path(work) / f"{storage}.yaml"
            save_config(config, path)
            run = Path(work) / f"{storage}-seed{seed}"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "cunet",
                    "train",
                    "--config",
                    str(path),
                    "--data",
                    str(args.data),
                    "--out",
                    str(run),
                    "--epochs",
                    str(args.epochs),
                    "--steps-per-epoch",
                    str(args.steps_per_epoch),
                    "--batch-size",
                    str(args.batch_size),
                    "--seed",
                    str(seed),
                    "--no-tensorboard",
                    "--quiet",
                ],
                check=True,
            )
            curves[(storage, seed)] = losses(run)

    print("| epoch | " + " | ".join(f"{s} seed {k}: loss / val" for s, k in RUNS) + " |")
    print("| ---: | " + " | ".join("---:" for _ in RUNS) + " |")
    for epoch in range(args.epochs):
        cells = [f"{curves[r][epoch][0]:.5f} / {curves[r][epoch][1]:.5f}" for r in RUNS]
        print(f"| {epoch} | " + " | ".join(cells) + " |")
    keys = []
    reference = curves[RUNS[0]]
    for storage, seed in RUNS[1:]:
        worst = max(abs(a - b) / b for run, ref in zip(curves[(storage, seed)], reference) for a, b in zip(run, ref))
        keys.append(f"max_rel_diff_{storage}_seed{seed}={worst:.4f}")
    print(" ".join(keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
