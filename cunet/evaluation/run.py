"""Running an evaluation: every method on every track, resumably, then the reports.

Scores are stored per method and track (`cunet.evaluation.scoring`), written atomically; a
valid file is never scored again, so an interrupted evaluation resumes. A corrupt or
incomplete file is scored again. `<out>/<method>/method.json` records what produced a
method's scores, so scores of two different models never mix under one name.

With `jobs` > 1, tracks are scored in worker processes (`cunet.parallel`), each building the
methods once (models loaded per worker) and writing its tracks' stores itself; this process
gathers the scores in track order, so the stores, the result and the reports are those of
one job, and a killed parallel run resumes as a serial one does.
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import pandas as pd

from cunet.evaluation import EvaluationError
from cunet.evaluation.methods import DEFAULT_TARGETS, Method, check_targets
from cunet.evaluation.report import write_reports
from cunet.evaluation.results import COLUMNS, Result
from cunet.evaluation.scoring import METRICS, frame_median, read_track_scores, score_estimates, track_json_path
from cunet.fileio import atomic_write_text
from cunet.musdb import discover_tracks, read_track, track_length
from cunet.parallel import default_jobs as bounded_jobs
from cunet.parallel import parallel_map

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


def _score_methods(track, methods: Sequence[Method], targets, out_dir, subset: str, load: Callable) -> dict:
    """{method name: scores} of `methods` on `track`, decoded once, each stored as it is scored."""
    audio = load(track)
    return {
        m.name: _score_track(m, audio, targets, track_json_path(out_dir, m.name, subset, track.name)) for m in methods
    }


# ---------------------------------------------------------------------------------------
# In a `--jobs` worker process: the methods built once, then one task per track

_worker_methods: dict = {}


def start_worker(recipes: Sequence[tuple]) -> None:
    """Build every method from its (fingerprint, recipe), models loaded once for the worker."""
    global _worker_methods
    methods = []
    for fingerprint, recipe in recipes:
        method = recipe()
        if method.fingerprint != fingerprint:
            raise EvaluationError(f"{method.name}: its model files changed while the evaluation ran")
        methods.append(method)
    _worker_methods = {m.name: m for m in methods}


def score_track_task(task: tuple) -> dict:
    """(track, method names, targets, out_dir, subset, load) -> {method name: scores}."""
    track, names, targets, out_dir, subset, load = task
    return _score_methods(track, [_worker_methods[n] for n in names], targets, out_dir, subset, load)


def _scored_tracks(work: list, methods: Sequence[Method], targets, out_dir, subset, load, jobs: int):
    """(index in `work`, {method: scores}) for every (track, method names) of `work`, as scored:
    here for one job, else in `jobs` worker processes (`cunet.parallel`)."""
    by_name = {m.name: m for m in methods}
    needed = [m for m in methods if any(m.name in names for _, names in work)]
    local = [m.name for m in needed if m.recipe is None]
    if jobs > 1 and local:
        warnings.warn(
            f"method(s) {', '.join(local)} cannot be rebuilt in a worker process (no recipe): "
            "scoring in this process, one track at a time",
            stacklevel=3,
        )
    if jobs <= 1 or len(work) <= 1 or local:
        for index, (track, names) in enumerate(work):
            yield index, _score_methods(track, [by_name[n] for n in names], targets, out_dir, subset, load)
        return
    recipes = [(m.fingerprint, m.recipe) for m in needed]
    tasks = [(track, names, list(targets), out_dir, subset, load) for track, names in work]
    with contextlib.closing(parallel_map(score_track_task, tasks, jobs, start_worker, (recipes,))) as results:
        yield from results


def run_evaluation(
    tracks: Sequence,
    methods: Sequence[Method],
    targets: Sequence[str],
    out_dir,
    subset: str = "test",
    progress: bool = True,
    load: Callable = read_track,
    jobs: int = 1,
) -> Result:
    """Score every method on every track, reusing stored per-track JSON; returns all scores.

    tracks: `cunet.musdb.MusdbTrack`s (anything with `.name`, decoded by `load` into a
    `TrackAudio`); a track is decoded only when some method still needs scoring on it.
    jobs: tracks scored at once, in worker processes that build the methods once each from
    their `recipe` (`tracks` and `load` must then be picklable); the stores and the result
    are those of one job.
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
    stored = {
        (m.name, t.name): read_track_scores(track_json_path(out_dir, m.name, subset, t.name), targets)
        for t in tracks
        for m in methods
    }
    work = [(t, [m.name for m in methods if stored[m.name, t.name] is None]) for t in tracks]
    work = [(t, missing) for t, missing in work if missing]
    bar = tqdm(
        total=len(tracks),
        initial=len(tracks) - len(work),
        desc="evaluate",
        unit="track",
        disable=not progress,
        dynamic_ncols=True,
    )
    try:
        for index, scores in _scored_tracks(work, methods, targets, out_dir, subset, load, jobs):
            track = work[index][0]
            stored.update({(name, track.name): s for name, s in scores.items()})
            result.scored += len(scores)
            bar.set_postfix_str(track.name[:40])
            bar.update()
    finally:
        bar.close()
    result.reused = len(stored) - result.scored
    rows = [
        (method.name, track.name, target, metric, frame_median(stored[method.name, track.name][target][metric]))
        for track in tracks
        for method in methods
        for target in targets
        for metric in METRICS
    ]
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
    jobs: int = 1,
) -> Result:
    """Python API of `cunet evaluate`: score `methods` on a MUSDB18 root and write all reports."""
    targets = check_targets(list(targets))
    musdb_tracks = discover_tracks(root, subset, is_wav, tracks)
    result = run_evaluation(musdb_tracks, methods, targets, out_dir, subset, progress, jobs=jobs)
    write_reports(result, out_dir)
    return result


# The peak memory of a worker scoring one track, modelled on measurements (docs/BENCHMARKS.md,
# "Parallel prepare and evaluate"): the interpreter and its libraries, TensorFlow and a model
# for model methods, the decoded track and museval's float64 copies (bytes per sample and
# target), and museval's full-length FFTs and filter Gram matrix. 2.7 GB for a 30 s stereo
# track with four targets (2.35 GB measured), 10 GB for 5 minutes, 19 GB for 10 minutes.
WORKER_BASE_BYTES = 1 << 30
MODEL_BYTES = 1 << 30
SAMPLE_BYTES = 40
SAMPLE_TARGET_BYTES = 40
MUSEVAL_FILTER = 512


def worker_bytes(samples: int, channels: int, targets: int, models: bool) -> int:
    """Estimated peak memory of a worker scoring a track of `samples` x `channels`."""
    signals = targets * channels
    n_fft = 1 << int(np.ceil(np.log2(samples + MUSEVAL_FILTER - 1)))
    museval = 48 * signals * n_fft + 48 * (signals * MUSEVAL_FILTER) ** 2
    return (
        WORKER_BASE_BYTES
        + (MODEL_BYTES if models else 0)
        + samples * (SAMPLE_BYTES + SAMPLE_TARGET_BYTES * targets)
        + museval
    )


def default_jobs(tracks: Sequence, methods: Sequence[Method], targets: Sequence[str]) -> int:
    """`cunet evaluate`'s default `--jobs`: the cores, bounded by the available memory over
    `worker_bytes` of the longest of `tracks` (`MusdbTrack`s, read from their headers)."""
    if not tracks:
        return 1
    models = any(m.kind in ("model", "dedicated") for m in methods)
    samples, _, channels = max(track_length(t) for t in tracks)
    return bounded_jobs(worker_bytes(samples, channels, len(targets), models))
