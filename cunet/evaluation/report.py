"""The reports of an evaluation: long and summary CSV, a Markdown table, a boxplot, a terminal table."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from cunet.evaluation.results import COLUMNS, Result
from cunet.evaluation.scoring import METRICS
from cunet.fileio import atomic_path, atomic_write_text


def _format_score(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.3f}"


def results_csv(result: Result) -> str:
    """Every per-track score: method, track, target, metric, score."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in result.scores.itertuples(index=False):
        writer.writerow([row.method, row.track, row.target, row.metric, _format_score(float(row.score))])
    return buffer.getvalue()


def summary_csv(result: Result) -> str:
    """Every aggregate: method, kind, parameters, target, metric, score, tracks."""
    methods = {m.name: m for m in result.methods}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "kind", "parameters", "target", "metric", "score", "tracks"])
    for row in result.summary().itertuples(index=False):
        method = methods[row.method]
        writer.writerow(
            [method.name, method.kind, method.parameters, row.target, row.metric, _format_score(row.score), row.tracks]
        )
    return buffer.getvalue()


def summary_markdown(result: Result) -> str:
    """One table per metric (methods by targets), the methods' descriptions and the tracks."""
    lines = [
        f"# Evaluation: {len(result.tracks)} track(s) of the {result.subset} set",
        "",
        "BSS Eval v4 (museval), 1 s windows, 1 s hop, at each track's own rate and channels. "
        "Scores in dB: median over each track's frames (NaN frames, e.g. silence, ignored), "
        "then median over tracks (SiSEC 2018). Higher is better. "
        "`baseline-mixture` (the mixture as every estimate) is the floor and `oracle-irm` "
        "(ratio mask from the true sources) the ceiling of magnitude masking.",
        "",
    ]
    for metric in METRICS:
        lines += [f"## {metric}", ""]
        lines.append("| method | kind | parameters | " + " | ".join(result.targets) + " |")
        lines.append("| --- | --- | ---: | " + " | ".join("---:" for _ in result.targets) + " |")
        for method in result.methods:
            cells = [_format_score(result.aggregate(method.name, t, metric)) for t in result.targets]
            lines.append(f"| {method.name} | {method.kind} | {method.parameters:,} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Methods", ""]
    lines += [f"- `{m.name}` ({m.kind}): {m.description}" for m in result.methods]
    lines += ["", "Tracks: " + ", ".join(result.tracks), ""]
    return "\n".join(lines)


def write_boxplot(result: Result, path: Path, metric: str = "SDR") -> None:
    """Boxplots of per-track scores, one panel per target, one box per method (SiSEC style)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [m.name for m in result.methods]
    fig, axes = plt.subplots(
        1,
        len(result.targets),
        figsize=(3.2 * len(result.targets), 0.5 + 0.45 * len(names) + 1.5),
        sharey=True,
        squeeze=False,
    )
    for ax, target in zip(axes[0], result.targets):
        data = []
        for name in names:
            values = np.asarray(result.track_scores(name, target, metric), np.float64)
            data.append(values[~np.isnan(values)])
        ax.boxplot(data, vert=False, showfliers=True)
        ax.set_yticks(range(1, len(names) + 1), names)
        ax.set_title(target)
        ax.set_xlabel(f"{metric} (dB)")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"{metric} per track (median over 1 s frames), {result.subset} set")
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def write_reports(result: Result, out_dir) -> dict:
    """results.csv, summary.csv, summary.md and sdr_boxplot.png in `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    paths = {
        "results": out_dir / "results.csv",
        "summary_csv": out_dir / "summary.csv",
        "summary_md": out_dir / "summary.md",
        "boxplot": out_dir / "sdr_boxplot.png",
    }
    atomic_write_text(paths["results"], results_csv(result))
    atomic_write_text(paths["summary_csv"], summary_csv(result))
    atomic_write_text(paths["summary_md"], summary_markdown(result))
    write_boxplot(result, paths["boxplot"])
    return paths


def sdr_table(result: Result) -> str:
    """A plain-text table of SDR per method and target, for the terminal."""
    header = ["method", "parameters"] + list(result.targets)
    rows = [
        [m.name, f"{m.parameters:,}"] + [_format_score(result.aggregate(m.name, t, "SDR")) for t in result.targets]
        for m in result.methods
    ]
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(header)] + [line(r) for r in rows])
