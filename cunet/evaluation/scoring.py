"""BSS Eval v4 scores of one track (museval), their per-track JSON store and the frame median.

Scores are SDR, SIR, SAR, ISR on 1 s windows with a 1 s hop, at the track's own rate and
channels, all targets of a track scored jointly. They are stored in museval's JSON format
(`<out>/<method>/<subset>/<track>.json`); `read_track_scores` reads one back, or says it
must be scored again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

METRICS = ("SDR", "SIR", "SAR", "ISR")
WINDOW_SECONDS = 1.0
HOP_SECONDS = 1.0


def _is_silent(x: np.ndarray) -> bool:
    """museval's rule: a source whose channel sum is exactly 0 at every sample."""
    return bool(np.all(np.sum(x, axis=tuple(range(1, x.ndim))) == 0))


def _fit_estimates(references: Mapping, estimates: Mapping) -> tuple[dict, dict]:
    """float64 copies, estimates padded or cut to the reference length (museval's rule)."""
    length = len(next(iter(references.values())))
    refs, ests = {}, {}
    for target in references:
        ref = np.asarray(references[target], np.float64)
        est = np.asarray(estimates[target], np.float64)
        if est.ndim != 2 or est.shape[1] != ref.shape[1]:
            raise ValueError(f"{target}: estimate shape {est.shape} does not match reference {ref.shape}")
        est = est[:length] if len(est) >= length else np.pad(est, ((0, length - len(est)), (0, 0)))
        if not np.all(np.isfinite(est)):
            raise ValueError(f"{target}: the estimate holds NaN or Inf samples")
        refs[target], ests[target] = ref, est
    return refs, ests


def score_estimates(references: Mapping, estimates: Mapping, rate: int, track_name: str):
    """BSS Eval v4 of all targets jointly -> a `museval.TrackStore` (frames of 1 s, hop 1 s).

    references, estimates: {target: (samples, channels)}; estimates are padded or cut to
    the reference length (museval's rule). Targets whose reference or estimate is silent
    in the whole track cannot be scored (BSS Eval is undefined there) and are left out of
    the joint evaluation: every frame of theirs is NaN, as museval gives for silent frames.
    """
    import museval
    from museval.metrics import Framing

    refs, ests = _fit_estimates(references, estimates)
    length = len(next(iter(refs.values())))
    win, hop = int(WINDOW_SECONDS * rate), int(HOP_SECONDS * rate)
    scorable = [t for t in refs if not _is_silent(refs[t]) and not _is_silent(ests[t])]
    values = {}
    if scorable:
        sdr, isr, sir, sar = museval.evaluate(
            [refs[t] for t in scorable], [ests[t] for t in scorable], win=win, hop=hop
        )
        for i, target in enumerate(scorable):
            values[target] = {"SDR": sdr[i], "SIR": sir[i], "SAR": sar[i], "ISR": isr[i]}
    frames = Framing(win, hop, length).nwin
    store = museval.TrackStore(win=WINDOW_SECONDS, hop=HOP_SECONDS, track_name=track_name)
    for target in refs:
        metrics = values.get(target) or {m: np.full(frames, np.nan) for m in METRICS}
        store.add_target(target_name=target, values={m: np.asarray(v).tolist() for m, v in metrics.items()})
    return store


def read_track_scores(path: Path, targets: Sequence[str]) -> Optional[dict]:
    """{target: {metric: [frame scores]}} from a stored museval JSON, or None if unusable.

    None (score again) for a missing, unreadable or malformed file, or one whose targets
    are not exactly `targets` (they are scored jointly, so a different set differs).
    """
    try:
        data = json.loads(Path(path).read_text())  # museval writes NaN frames as NaN
        scores = {}
        for entry in data["targets"]:
            frames = entry["frames"]
            if not isinstance(frames, list) or not frames:
                return None
            scores[entry["name"]] = {m: [float(frame["metrics"][m]) for frame in frames] for m in METRICS}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if sorted(scores) != sorted(targets):
        return None
    return scores


def track_json_path(out_dir, method: str, subset: str, track: str) -> Path:
    """Where the scores of `method` on `track` are stored (museval's layout)."""
    return Path(out_dir) / method / subset / f"{track}.json"


def frame_median(values: Sequence[float]) -> float:
    """Median, NaN values (e.g. silent frames) ignored; NaN when every value is NaN."""
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    return float(np.median(values)) if values.size else float("nan")
