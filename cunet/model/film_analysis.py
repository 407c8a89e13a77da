"""What the control network asks of the encoder: the FiLM γ and β of each instrument.

`film_parameters` feeds the one-hot condition of every instrument (in `config.instruments`
order) through the C-U-Net's control network (`UNet.control_network`) in
inference mode and returns γ and β per instrument and encoder block. The FiLM paper's
analysis (Perez et al. 2018, sec. 7) looks at the same numbers: γ near 0 switches a feature
map off, a negative γ inverts it, and different conditions should use different maps.

Shapes: for an encoder block with C FiLM parameters ("simple" FiLM: C = 1, "complex":
C = the block's channels), `gammas[instrument][layer]` and `betas[...]` are (C,) arrays.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cunet.errors import CunetError
from cunet.fileio import atomic_path, atomic_write_text
from cunet.model.parts import control_network_of

SWITCHED_OFF = 0.1  # |γ| below this counts as a feature map switched off


class NotConditionedError(CunetError):
    """The model has no control network (a dedicated U-Net): nothing to inspect."""


@dataclass
class FilmParameters:
    """γ and β per instrument and encoder block: `gammas[name][layer]` is a (C_layer,) array."""

    instruments: list
    gammas: dict
    betas: dict

    @property
    def n_layers(self) -> int:
        return len(next(iter(self.gammas.values())))

    def rows(self):
        """(instrument, layer, channel, gamma, beta) for every FiLM parameter."""
        for name in self.instruments:
            for layer, (g, b) in enumerate(zip(self.gammas[name], self.betas[name])):
                for channel in range(len(g)):
                    yield name, layer, channel, float(g[channel]), float(b[channel])


def film_parameters(model, config) -> FilmParameters:
    """γ, β of every instrument's one-hot condition from the model's control network."""
    control = control_network_of(model) if config.conditioned else None
    if control is None:
        target = config.model.target
        raise NotConditionedError(
            f"this model is a dedicated U-Net{f' for {target!r}' if target else ''}: it has no "
            "control network (FiLM) to inspect; inspect a C-U-Net model"
        )
    conditions = np.eye(len(config.instruments), dtype=np.float32)
    gammas, betas = control(conditions, training=False)
    gammas = [np.asarray(g) for g in gammas]
    betas = [np.asarray(b) for b in betas]
    return FilmParameters(
        instruments=list(config.instruments),
        gammas={name: [g[i] for g in gammas] for i, name in enumerate(config.instruments)},
        betas={name: [b[i] for b in betas] for i, name in enumerate(config.instruments)},
    )


def film_csv(params: FilmParameters) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["instrument", "layer", "channel", "gamma", "beta"])
    for name, layer, channel, gamma, beta in params.rows():
        writer.writerow([name, layer, channel, f"{gamma:.6g}", f"{beta:.6g}"])
    return buffer.getvalue()


def film_summary(params: FilmParameters) -> str:
    """Per instrument and layer: mean γ, mean β, share of γ switched off (|γ| < 0.1) and negative."""
    header = ["instrument", "layer", "params", "mean gamma", "mean beta", "|gamma|<0.1", "gamma<0"]
    rows = []
    for name in params.instruments:
        for layer in range(params.n_layers):
            g, b = params.gammas[name][layer], params.betas[name][layer]
            rows.append(
                [
                    name,
                    str(layer),
                    str(len(g)),
                    f"{g.mean():+.3g}",
                    f"{b.mean():+.3g}",
                    f"{np.mean(np.abs(g) < SWITCHED_OFF):.0%}",
                    f"{np.mean(g < 0):.0%}",
                ]
            )
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [header] + rows)


def _plot_per_layer(params: FilmParameters, which: str, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    values = params.gammas if which == "gamma" else params.betas
    n = params.n_layers
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    symbol = "γ" if which == "gamma" else "β"
    for layer in range(n):
        ax = axes[layer // cols][layer % cols]
        for name in params.instruments:
            v = values[name][layer]
            if len(v) == 1:
                ax.bar(name, v[0])
            else:
                ax.plot(np.arange(len(v)), v, marker=".", linestyle="-", linewidth=0.6, label=name)
        if len(values[params.instruments[0]][layer]) > 1:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("channel")
            ax.legend(fontsize=7)
        ax.axhline(0, color="black", linewidth=0.5)
        ax.set_title(f"encoder block {layer}")
        ax.set_ylabel(symbol)
    for k in range(n, rows * cols):
        axes[k // cols][k % cols].axis("off")
    fig.suptitle(f"FiLM {symbol} per encoder block and instrument (one-hot conditions)")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def _plot_histogram(params: FilmParameters, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.0))
    every = np.concatenate([np.concatenate(params.gammas[n]) for n in params.instruments])
    bins = np.linspace(every.min(), every.max(), 41) if every.max() > every.min() else 10
    for name in params.instruments:
        ax.hist(np.concatenate(params.gammas[name]), bins=bins, histtype="step", linewidth=1.4, label=name)
    ax.axvline(0, color="black", linewidth=0.5)
    ax.set_xlabel("γ")
    ax.set_ylabel("count (all encoder blocks)")
    ax.set_title("Histogram of FiLM γ per instrument condition")
    ax.legend()
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)


def write_film_report(params: FilmParameters, out_dir) -> dict:
    """film.csv, film_summary.txt, film_gamma.png, film_beta.png, film_gamma_histogram.png."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir = Path(out_dir)
    paths = {
        "csv": out_dir / "film.csv",
        "summary": out_dir / "film_summary.txt",
        "gamma": out_dir / "film_gamma.png",
        "beta": out_dir / "film_beta.png",
        "histogram": out_dir / "film_gamma_histogram.png",
    }
    atomic_write_text(paths["csv"], film_csv(params))
    atomic_write_text(paths["summary"], film_summary(params) + "\n")
    _plot_per_layer(params, "gamma", paths["gamma"])
    _plot_per_layer(params, "beta", paths["beta"])
    _plot_histogram(params, paths["histogram"])
    return paths
