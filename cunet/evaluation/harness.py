"""The evaluation harness: methods separate MUSDB18 tracks, museval scores them, results aggregate.

- A `Method` turns a `TrackAudio` into {target: (samples, channels) estimate}: a saved model
  through `cunet.Separator` (exactly what `cunet separate` writes, no rescaling), four
  dedicated U-Nets assembled into one method, the mixture (floor) or the oracle ratio mask
  (ceiling).
- `score_estimates` is BSS Eval v4 (museval): SDR, SIR, SAR, ISR on 1 s windows with a 1 s
  hop, at the track's own rate and channels, all targets of a track scored jointly.
- Scores are stored per method and track in museval's JSON format
  (`<out>/<method>/<subset>/<track>.json`), written atomically; a valid file is never
  scored again, so an interrupted evaluation resumes. A corrupt or incomplete file is
  scored again.
- Aggregation is SiSEC 2018's: median over a track's frames (NaN frames, e.g. silence,
  ignored), then median over tracks.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Optional, Sequence

import numpy as np

from cunet.evaluation.baselines import (
    IRM,
    MIXTURE,
    ideal_ratio_mask_estimates,
    mixture_estimates,
)
from cunet.config import AudioConfig, load_config
from cunet.errors import CunetError
from cunet.fileio import atomic_path, atomic_write_text
from cunet.audio.spectral import input_stft_settings

METRICS = ("SDR", "SIR", "SAR", "ISR")
SOURCES = ("vocals", "drums", "bass", "other")  # MUSDB18's sources; "other" is the paper's "rest"
DEFAULT_TARGETS = SOURCES
WINDOW_SECONDS = 1.0
HOP_SECONDS = 1.0
METHOD_RECORD = "method.json"


class EvaluationError(CunetError):
    """A problem with the evaluation's input: data root, targets, models, output folder."""


@dataclass
class TrackAudio:
    """One track in memory: mixture and every true source, (samples, channels) float32."""

    name: str
    rate: int
    mixture: np.ndarray
    sources: dict


@dataclass
class Method:
    """One row of the comparison table.

    Args:
        name: the method's name in tables and its folder under the output directory.
        kind: "model", "dedicated", "baseline" (the floor) or "oracle" (the ceiling).
        parameters: parameter count (0 for baselines; the sum of the models for "dedicated").
        description: one line saying what the method is.
        fingerprint: identifies what produced stored scores (model file hashes, settings),
            so scores of a different model under the same name are never mixed in.
        separate: `separate(track: TrackAudio, targets) -> {target: (samples, channels)}`.
    """

    name: str
    kind: str
    parameters: int
    description: str
    fingerprint: str
    separate: Callable[[TrackAudio, Sequence[str]], dict] = field(repr=False)
    config: Optional[object] = field(default=None, repr=False)  # the model's Config, if any


# ----------------------------------------------------------------------------- methods
def mixture_method() -> Method:
    return Method(
        name=MIXTURE,
        kind="baseline",
        parameters=0,
        description="floor: the mixture as the estimate of every target",
        fingerprint="mixture",
        separate=lambda track, targets: mixture_estimates(track.mixture, targets),
    )


def irm_method(audio: Optional[AudioConfig] = None) -> Method:
    """The oracle ratio mask at the STFT a Separator with `audio` settings masks.

    `audio` defaults to the default config's (the paper's: 125 ms window, 31.25 ms hop);
    other window durations get their own method name, e.g. `oracle-irm-31.25ms`.
    """
    default = load_config().audio
    audio = audio or default
    window_ms = 1000.0 * audio.n_fft / audio.sample_rate
    hop_ms = 1000.0 * audio.hop_length / audio.sample_rate
    same = audio.n_fft * default.sample_rate == default.n_fft * audio.sample_rate and (
        audio.hop_length * default.n_fft == default.hop_length * audio.n_fft
    )

    def separate(track: TrackAudio, targets):
        n_fft, hop = input_stft_settings(audio, track.rate)
        return ideal_ratio_mask_estimates(track.mixture, track.sources, targets, n_fft, hop)

    return Method(
        name=IRM if same else f"{IRM}-{window_ms:g}ms",
        kind="oracle",
        parameters=0,
        description=(
            f"ceiling: oracle ratio mask |S_j|/sum|S_k| from the true sources, full band, "
            f"STFT window {window_ms:g} ms hop {hop_ms:g} ms"
        ),
        fingerprint=f"irm1:{window_ms:g}/{hop_ms:g}ms",
        separate=separate,
    )


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def _load_separator(path: Path):
    from cunet.separation.separator import Separator

    if not Path(path).is_file():
        raise EvaluationError(f"model file not found: {path}")
    return Separator.load(path)


def method_name_for(path: Path) -> str:
    """A model's method name: its file stem, or its folder's name for generic stems (model.keras)."""
    path = Path(path)
    stem = path.name[: -len(".keras")] if path.name.endswith(".keras") else path.stem
    if stem in ("model", "best", "final", "last", "checkpoint") and path.parent.name:
        return path.parent.name
    return stem


def model_method(path, targets: Sequence[str], name: Optional[str] = None) -> Method:
    """A saved C-U-Net (or any cunet model) that separates every target through `Separator`."""
    path = Path(path)
    separator = _load_separator(path)
    missing = [t for t in targets if t not in separator.instruments]
    if missing:
        raise EvaluationError(
            f"{path}: this model separates {', '.join(separator.instruments)}, not "
            f"{', '.join(missing)} (use --dedicated for dedicated U-Nets, or --targets)"
        )
    config = separator.config

    def separate(track: TrackAudio, wanted):
        return separator.separate(track.mixture, track.rate, instruments=tuple(wanted))

    return Method(
        name=name or method_name_for(path),
        kind="model",
        parameters=int(separator.model.count_params()),
        description=f"{config.model.type} model {path.name} (config {config.name})",
        fingerprint=f"model:{file_digest(path)}",
        separate=separate,
        config=config,
    )


def dedicated_method(paths: Mapping[str, Path], targets: Sequence[str], name: str) -> Method:
    """Dedicated U-Nets, one per target, assembled into one method (parameters summed)."""
    missing = [t for t in targets if t not in paths]
    if missing:
        raise EvaluationError(
            f"--dedicated gives no U-Net for {', '.join(missing)}: pass one "
            f"INSTRUMENT=PATH for each target ({', '.join(targets)})"
        )
    separators = {}
    for target in targets:
        path = Path(paths[target])
        separator = _load_separator(path)
        if separator.config.conditioned or separator.config.model.target != target:
            what = "a C-U-Net" if separator.config.conditioned else (
                f"a dedicated U-Net for {separator.config.model.target!r}"
            )
            raise EvaluationError(f"--dedicated {target}={path}: the model is {what}, not a U-Net for {target!r}")
        separators[target] = separator

    def separate(track: TrackAudio, wanted):
        return {
            t: separators[t].separate(track.mixture, track.rate, instruments=(t,))[t] for t in wanted
        }

    return Method(
        name=name,
        kind="dedicated",
        parameters=int(sum(s.model.count_params() for s in separators.values())),
        description="dedicated U-Nets: " + ", ".join(f"{t}={Path(paths[t]).name}" for t in targets),
        fingerprint="dedicated:" + ",".join(f"{t}={file_digest(Path(paths[t]))}" for t in targets),
        separate=separate,
        config=separators[targets[0]].config,
    )


# ----------------------------------------------------------------------------- tracks
def check_targets(targets: Sequence[str]) -> list:
    targets = [t.strip() for t in targets if t.strip()]
    unknown = [t for t in targets if t not in SOURCES]
    if unknown:
        raise EvaluationError(
            f"unknown target {', '.join(map(repr, unknown))} (MUSDB18 targets: {', '.join(SOURCES)})"
        )
    if not targets:
        raise EvaluationError(f"no targets given (MUSDB18 targets: {', '.join(SOURCES)})")
    if len(set(targets)) != len(targets):
        raise EvaluationError(f"a target is given twice: {', '.join(targets)}")
    return targets


def open_musdb(root, subset: str = "test", is_wav: bool = False, limit: Optional[int] = None) -> list:
    """The musdb `Track`s of `root/subset` (sorted by name), the first `limit` of them."""
    import musdb

    root = Path(root)
    if not root.is_dir():
        raise EvaluationError(f"MUSDB18 root not found: {root}")
    if subset not in ("train", "test"):
        raise EvaluationError(f"subset must be train or test, got {subset!r}")
    if not (root / subset).is_dir():
        raise EvaluationError(f"{root} has no {subset}/ folder: not a MUSDB18 root")
    try:
        db = musdb.DB(root=str(root), subsets=subset, is_wav=is_wav)
    except Exception as exc:  # musdb raises bare exceptions for malformed roots
        raise EvaluationError(f"cannot read MUSDB18 root {root}: {exc}") from None
    tracks = sorted(db.tracks, key=lambda t: t.name)
    if not tracks:
        hint = (
            "looked for <track>/mixture.wav folders (MUSDB18-HQ); drop --is-wav for .stem.mp4 files"
            if is_wav
            else "looked for .stem.mp4 files (MUSDB18); pass --is-wav for MUSDB18-HQ wav folders"
        )
        raise EvaluationError(f"no tracks in {root / subset} ({hint})")
    if limit is not None:
        if limit < 1:
            raise EvaluationError(f"--tracks must be at least 1, got {limit}")
        tracks = tracks[:limit]
    return tracks


def load_track(track) -> TrackAudio:
    """Decode a musdb track: mixture and the four sources as (samples, channels) float32."""
    def two_d(x):
        x = np.asarray(x, np.float32)
        return x[:, None] if x.ndim == 1 else x  # musdb gives mono as (samples,)

    try:
        mixture = two_d(track.audio)
        sources = {name: two_d(track.sources[name].audio) for name in SOURCES}
    except Exception as exc:  # decoding failures of stempeg/soundfile
        raise EvaluationError(f"cannot read track {track.name!r}: {exc}") from None
    return TrackAudio(track.name, int(track.rate), mixture, sources)


# ----------------------------------------------------------------------------- scoring
def _is_silent(x: np.ndarray) -> bool:
    """museval's rule: a source whose channel sum is exactly 0 at every sample."""
    return bool(np.all(np.sum(x, axis=tuple(range(1, x.ndim))) == 0))


def score_estimates(references: Mapping, estimates: Mapping, rate: int, track_name: str):
    """BSS Eval v4 of all targets jointly -> a `museval.TrackStore` (frames of 1 s, hop 1 s).

    references, estimates: {target: (samples, channels)}; estimates are padded or cut to
    the reference length (museval's rule). Targets whose reference or estimate is silent
    in the whole track cannot be scored (BSS Eval is undefined there) and are left out of
    the joint evaluation: every frame of theirs is NaN, as museval gives for silent frames.
    """
    import museval
    from museval.metrics import Framing

    targets = list(references)
    length = len(next(iter(references.values())))
    refs, ests = {}, {}
    for target in targets:
        ref = np.asarray(references[target], np.float64)
        est = np.asarray(estimates[target], np.float64)
        if est.ndim != 2 or est.shape[1] != ref.shape[1]:
            raise ValueError(f"{target}: estimate shape {est.shape} does not match reference {ref.shape}")
        est = est[:length] if len(est) >= length else np.pad(est, ((0, length - len(est)), (0, 0)))
        if not np.all(np.isfinite(est)):
            raise ValueError(f"{target}: the estimate holds NaN or Inf samples")
        refs[target], ests[target] = ref, est
    win, hop = int(WINDOW_SECONDS * rate), int(HOP_SECONDS * rate)
    scorable = [t for t in targets if not _is_silent(refs[t]) and not _is_silent(ests[t])]
    values = {}
    if scorable:
        sdr, isr, sir, sar = museval.evaluate(
            [refs[t] for t in scorable], [ests[t] for t in scorable], win=win, hop=hop
        )
        for i, target in enumerate(scorable):
            values[target] = {"SDR": sdr[i], "SIR": sir[i], "SAR": sar[i], "ISR": isr[i]}
    frames = Framing(win, hop, length).nwin
    store = museval.TrackStore(win=WINDOW_SECONDS, hop=HOP_SECONDS, track_name=track_name)
    for target in targets:
        metrics = values.get(target) or {m: np.full(frames, np.nan) for m in METRICS}
        store.add_target(target_name=target, values={m: np.asarray(v).tolist() for m, v in metrics.items()})
    return store


def read_track_scores(path: Path, targets: Sequence[str]) -> Optional[dict]:
    """{target: {metric: [frame scores]}} from a stored museval JSON, or None if unusable.

    None (score again) for a missing, unreadable or malformed file, or one whose targets
    are not exactly `targets` (they are scored jointly, so a different set differs).
    """
    import simplejson

    try:
        data = simplejson.loads(Path(path).read_text(), allow_nan=True)
        scores = {}
        for entry in data["targets"]:
            frames = entry["frames"]
            if not isinstance(frames, list) or not frames:
                return None
            scores[entry["name"]] = {
                m: [float(frame["metrics"][m]) for frame in frames] for m in METRICS
            }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if sorted(scores) != sorted(targets):
        return None
    return scores


def track_json_path(out_dir, method: str, subset: str, track: str) -> Path:
    return Path(out_dir) / method / subset / f"{track}.json"


def frame_median(values: Sequence[float]) -> float:
    """Median over frames, NaN frames ignored; NaN when every frame is NaN."""
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else float("nan")


# ----------------------------------------------------------------------------- runs
@dataclass
class Result:
    """Long-form scores: rows (method, track, target, metric, score = median over frames)."""

    methods: list
    tracks: list
    targets: list
    subset: str
    rows: list = field(default_factory=list)
    scored: int = 0  # (method, track) pairs scored in this run
    reused: int = 0  # pairs read back from stored JSON

    def track_scores(self, method: str, target: str, metric: str) -> list:
        return [r[4] for r in self.rows if r[0] == method and r[2] == target and r[3] == metric]

    def aggregate(self, method: str, target: str, metric: str) -> float:
        """SiSEC 2018: median over tracks of the per-track frame medians (NaN tracks ignored)."""
        return frame_median(self.track_scores(method, target, metric))


def _check_method_record(out_dir: Path, method: Method) -> None:
    """Refuse to mix scores of different models stored under one method name."""
    path = Path(out_dir) / method.name / METHOD_RECORD
    record = {
        "name": method.name,
        "kind": method.kind,
        "parameters": method.parameters,
        "description": method.description,
        "fingerprint": method.fingerprint,
    }
    if path.is_file():
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            stored = {}
        if stored.get("fingerprint") not in (None, method.fingerprint):
            raise EvaluationError(
                f"{path.parent} holds scores of a different {method.kind} under the name "
                f"{method.name!r} ({stored.get('description', '?')}); name it differently "
                "(--model NAME=PATH) or use another --out"
            )
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def run_evaluation(
    tracks: Sequence,
    methods: Sequence[Method],
    targets: Sequence[str],
    out_dir,
    subset: str = "test",
    progress: bool = True,
    load: Callable = load_track,
) -> Result:
    """Score every method on every track, reusing stored per-track JSON; returns all scores.

    tracks: musdb `Track`s (anything with `.name`, decoded by `load`); a track is decoded
    only when some method still needs scoring on it.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    targets = check_targets(targets)
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise EvaluationError(f"two methods share a name: {', '.join(names)} (name models with --model NAME=PATH)")
    for method in methods:
        _check_method_record(out_dir, method)
    result = Result(methods=list(methods), tracks=[t.name for t in tracks], targets=targets, subset=subset)
    bar = tqdm(tracks, desc="evaluate", unit="track", disable=not progress, dynamic_ncols=True)
    for track in bar:
        audio = None
        for method in methods:
            path = track_json_path(out_dir, method.name, subset, track.name)
            scores = read_track_scores(path, targets)
            if scores is None:
                bar.set_postfix_str(f"{method.name}: {track.name}")
                if audio is None:
                    audio = load(track)
                estimates = method.separate(audio, targets)
                references = {t: audio.sources[t] for t in targets}
                store = score_estimates(references, estimates, audio.rate, track.name)
                atomic_write_text(path, store.json)
                scores = read_track_scores(path, targets)
                result.scored += 1
            else:
                result.reused += 1
            for target in targets:
                for metric in METRICS:
                    result.rows.append(
                        (method.name, track.name, target, metric, frame_median(scores[target][metric]))
                    )
    bar.close()
    return result


# ----------------------------------------------------------------------------- reports
def _format_score(x: float) -> str:
    return "nan" if math.isnan(x) else f"{x:.3f}"


def results_csv(result: Result) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "track", "target", "metric", "score"])
    for row in result.rows:
        writer.writerow([*row[:4], _format_score(row[4])])
    return buffer.getvalue()


def summary_csv(result: Result) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["method", "kind", "parameters", "target", "metric", "score", "tracks"])
    for method in result.methods:
        for target in result.targets:
            for metric in METRICS:
                scores = result.track_scores(method.name, target, metric)
                tracks = int(np.sum(~np.isnan(np.asarray(scores, np.float64))))
                writer.writerow([
                    method.name, method.kind, method.parameters, target, metric,
                    _format_score(result.aggregate(method.name, target, metric)), tracks,
                ])
    return buffer.getvalue()


def summary_markdown(result: Result) -> str:
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
        1, len(result.targets), figsize=(3.2 * len(result.targets), 0.5 + 0.45 * len(names) + 1.5),
        sharey=True, squeeze=False,
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
    fmt = lambda r: "  ".join(  # noqa: E731
        str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(r, widths))
    )
    return "\n".join([fmt(header)] + [fmt(r) for r in rows])


def evaluate_musdb(
    root,
    out_dir,
    methods: Sequence[Method],
    targets: Iterable[str] = DEFAULT_TARGETS,
    subset: str = "test",
    is_wav: bool = False,
    tracks: Optional[int] = None,
    progress: bool = True,
) -> Result:
    """Python API of `cunet evaluate`: score `methods` on a MUSDB18 root and write all reports."""
    targets = check_targets(list(targets))
    musdb_tracks = open_musdb(root, subset, is_wav, tracks)
    result = run_evaluation(musdb_tracks, methods, targets, out_dir, subset, progress)
    write_reports(result, out_dir)
    return result
