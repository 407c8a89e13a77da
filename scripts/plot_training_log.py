"""Plot a run's `training.csv` (loss and validation loss per epoch) to a PNG.

python scripts/plot_training_log.py RUN_DIR/training.csv docs/default-model-loss.png --title "..."
"""

from __future__ import annotations

import argparse
import csv
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv_log")
    parser.add_argument("png")
    parser.add_argument("--title", default="training log")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cunet.fileio import atomic_path

    with open(args.csv_log, newline="") as f:
        rows = list(csv.DictReader(f))
    epochs = [int(r["epoch"]) + 1 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    ax.plot(epochs, [float(r["loss"]) for r in rows], label="training loss (L1)")
    if rows and "val_loss" in rows[0]:
        val = [float(r["val_loss"]) for r in rows]
        ax.plot(epochs, val, label="validation loss (L1)")
        best = min(range(len(val)), key=val.__getitem__)
        ax.scatter(
            [epochs[best]], [val[best]], color="C1", zorder=3, label=f"best: {val[best]:.3e} (epoch {epochs[best]})"
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean absolute error on normalized magnitudes")
    ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(args.png, suffix=".png") as tmp:
        fig.savefig(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
