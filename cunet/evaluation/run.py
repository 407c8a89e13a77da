"""Running an evaluation: every method on every track, resumably, then the reports.

Scores are stored per method and track (`cunet.evaluation.scoring`), written atomically; a
valid file is never scored again, so an interrupted evaluation resumes. A corrupt or
incomplete file is scored again. `<out>/<method>/method.json` records what produced a
method's scores, so scores of two different models never mix under one name.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import pandas as pd

from cunet.evaluation import EvaluationError
from cunet.evaluation.methods import DEFAULT_TARGETS, Method, check_targets
from cunet.evaluation.report import write_reports
from cunet.evaluation.results import COLUMNS, Result
from cunet.evaluation.scoring import METRICS, frame_median, read_track_scores, score_estimates, track_json_path
from cunet.fileio import atomic_write_text
from cunet.musdb import discover_tracks, read_track

METHOD_RECORD = "method.json"


def check_method_record(out_dir: Path, method: Method) -> None:
    """Write `method.json`, refusing to mix scores of different models under one method name."""
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


def _score_track(method: Method, audio, targets, path: Path) -> dict:
    """Separate and score one track with `method`, store the scores at `path`, read them back."""
    estimates = method.separate(audio, targets)
    references = {t: audio.sources[t] for t in targets}
    store = score_estimates(references, estimates, audio.rate, audio.name)
    atomic_write_text(path, store.json)
    return read_track_scores(path, targets)


def run_evaluation(
    tracks: Sequence,
    methods: Sequence[Method],
    targets: Sequence[str],
    out_dir,
    subset: str = "test",
    progress: bool = True,
    load: Callable = read_track,
) -> Result:
    """Score every method on every track, reusing stored per-track JSON; returns all scores.

    tracks: `cunet.musdb.MusdbTrack`s (anything with `.name`, decoded by `load` into a
    `TrackAudio`); a track is decoded only when some method still needs scoring on it.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    targets = check_targets(targets)
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise EvaluationError(f"two methods share a name: {', '.join(names)} (name models with --model NAME=PATH)")
    for method in methods:
        check_method_record(out_dir, method)
    result = Result(methods=list(methods), tracks=[t.name for t in tracks], targets=targets, subset=subset)
    rows = []
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
                scores = _score_track(method, audio, targets, path)
                result.scored += 1
            else:
                result.reused += 1
            rows += [(method.name, track.name, target, metric, frame_median(scores[target][metric]))
                     for target in targets for metric in METRICS]
    bar.close()
    result.scores = pd.DataFrame(rows, columns=COLUMNS)
    return result


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
    musdb_tracks = discover_tracks(root, subset, is_wav, tracks)
    result = run_evaluation(musdb_tracks, methods, targets, out_dir, subset, progress)
    write_reports(result, out_dir)
    return result
