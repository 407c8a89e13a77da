"""`--jobs N`: prepare and evaluate in worker processes give what one job gives, and resume when killed."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cunet.cli import main
from cunet.config import load_config
from cunet.evaluation.methods import mixture_method
from cunet.evaluation.run import run_evaluation, worker_bytes
from cunet.musdb import discover_tracks, track_length
from cunet.parallel import WorkerError, default_jobs, parallel_map, threads_per_job
from cunet.training.cache import MANIFEST, prepare_cache
from musdb_fixtures import make_musdb_root

REPO = Path(__file__).resolve().parents[2]
TARGETS = "vocals,bass"


def _files(folder: Path, pattern: str) -> dict:
    """{relative path: bytes} of the visible files matching `pattern` under `folder`."""
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob(pattern)) if not p.name.startswith(".")
    }


def _start(argv: list) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.Popen(
        [sys.executable, "-m", "cunet", *argv], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _children(pid: int) -> list:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _kill_when(process: subprocess.Popen, ready, timeout: float = 120.0) -> list:
    """SIGKILL `process` as soon as `ready()`; returns the worker processes it had."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "the run never got that far"
        time.sleep(0.01)
    workers = _children(process.pid)
    process.kill()
    process.wait()
    return workers


def _assert_workers_exit(workers: list, timeout: float = 15.0) -> None:
    """Orphaned workers notice their parent died and exit, leaving no temporary file."""
    deadline = time.monotonic() + timeout
    while [w for w in workers if Path(f"/proc/{w}").exists() and "Z" not in _state(w)]:
        assert time.monotonic() < deadline, f"worker processes {workers} outlived their parent"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


# ---------------------------------------------------------------------------------------
# The pool


def _square(x):
    return x * x


def _fail_on_three(x):
    if x == 3:
        raise ValueError("three")
    return x


def _die(x):
    os._exit(3)


def test_parallel_map_results_failures_and_dead_workers():
    assert sorted(parallel_map(_square, [1, 2, 3, 4], 2)) == [(0, 1), (1, 4), (2, 9), (3, 16)]
    with pytest.raises(ValueError, match="three"):
        list(parallel_map(_fail_on_three, [1, 2, 3], 2))
    with pytest.raises(WorkerError, match="stopped abruptly.*run again to resume"):
        list(parallel_map(_die, [1, 2], 2))
    assert threads_per_job(os.cpu_count() * 2) == 1
    assert 1 <= default_jobs(1 << 60) <= default_jobs() == len(os.sched_getaffinity(0))


# ---------------------------------------------------------------------------------------
# prepare


def test_prepare_jobs_equal_one_job(tmp_path):
    config = load_config("tiny")
    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 4})
    events = {}
    for jobs in (1, 2):
        seen = events[jobs] = []
        prepare_cache(
            root,
            config,
            tmp_path / f"cache-{jobs}",
            is_wav=True,
            progress=False,
            jobs=jobs,
            on_track=lambda name, written, seen=seen: seen.append((name, written)),
        )
    assert sorted(events[1]) == sorted(events[2]) and len(events[1]) == 4
    one, two = _files(tmp_path / "cache-1", "*"), _files(tmp_path / "cache-2", "*")
    assert one == two and len(one) == 5  # four .npy and the manifest, byte for byte


def test_killed_parallel_prepare_resumes(tmp_path, capsys):
    # tracks long enough that the run is still going when a CPU-starved test process kills it
    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 8}, seconds=60.0)
    out = tmp_path / "cache"
    argv = ["prepare", "--musdb-root", str(root), "--is-wav", "--config", "tiny", "--quiet", "--jobs", "2"]
    process = _start([*argv, "--out", str(out)])
    workers = _kill_when(process, lambda: any(out.glob("[!.]*.npy")))
    assert len(workers) >= 2
    _assert_workers_exit(workers)
    manifest = json.loads((out / MANIFEST).read_text()) if (out / MANIFEST).exists() else {"tracks": []}
    done = len(manifest["tracks"])
    assert done < 8 and not manifest.get("complete")

    assert main([*argv, "--out", str(out)]) == 0
    assert f"{8 - done} written, {done} already cached" in capsys.readouterr().out
    assert main([*argv[:-1], "1", "--out", str(tmp_path / "serial")]) == 0
    assert _files(out, "*") == _files(tmp_path / "serial", "*")
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary file left


# ---------------------------------------------------------------------------------------
# evaluate


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A tiny C-U-Net saved as a cunet file (the separators of the workers load it)."""
    from cunet.model.files import save_model
    from cunet.model.unet import build_model

    config = load_config("tiny")
    return save_model(build_model(config), config, tmp_path_factory.mktemp("model") / "tiny-cunet.keras")


def _evaluate(root: Path, out: Path, jobs: int, *extra) -> list:
    return [
        "evaluate",
        "--musdb-root",
        str(root),
        "--is-wav",
        "--out",
        str(out),
        "--targets",
        TARGETS,
        "--no-progress",
        "--jobs",
        str(jobs),
        *extra,
    ]


def _frame_scores(data: bytes) -> list:
    return [float(v) for t in json.loads(data)["targets"] for f in t["frames"] for v in f["metrics"].values()]


def test_evaluate_jobs_equal_one_job(tmp_path, capsys, model):
    root = make_musdb_root(tmp_path / "root", "wav", {"test": 3}, seconds=2.0, rate=16000)
    for jobs in (1, 2):
        assert main(_evaluate(root, tmp_path / f"out-{jobs}", jobs, "--model", str(model))) == 0
        assert "3 track(s), 3 method(s): 9 scored now, 0 read back" in capsys.readouterr().out
    one, two = tmp_path / "out-1", tmp_path / "out-2"
    for name in ("results.csv", "summary.csv", "summary.md"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    stores, parallel = _files(one, "*/test/*.json"), _files(two, "*/test/*.json")
    assert len(stores) == 9 and sorted(stores) == sorted(parallel)
    for name, data in stores.items():  # museval's BLAS solves round differently on one thread per worker
        assert _frame_scores(data) == pytest.approx(_frame_scores(parallel[name]), abs=1e-4, nan_ok=True), name
    assert _files(one, "*/method.json") == _files(two, "*/method.json")


def test_killed_parallel_evaluate_resumes(tmp_path, capsys):
    root = make_musdb_root(tmp_path / "root", "wav", {"test": 6}, seconds=3.0, rate=16000)
    out = tmp_path / "out"
    process = _start(_evaluate(root, out, 2))
    workers = _kill_when(process, lambda: any(out.glob("*/test/[!.]*.json")))
    _assert_workers_exit(workers)
    kept = {p: p.stat().st_mtime_ns for p in out.glob("*/test/*.json")}
    assert 1 <= len(kept) < 12 and not [p for p in out.rglob(".*") if p.is_file()]

    assert main(_evaluate(root, out, 2)) == 0
    assert f"{12 - len(kept)} scored now, {len(kept)} read back" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in kept} == kept  # stored scores were not scored again
    assert main(_evaluate(root, tmp_path / "serial", 1)) == 0
    for name in ("results.csv", "summary.csv", "summary.md"):
        assert (out / name).read_bytes() == (tmp_path / "serial" / name).read_bytes(), name


def test_methods_without_a_recipe_run_in_this_process(tmp_path):
    root = make_musdb_root(tmp_path / "root", "wav", {"test": 2}, seconds=2.0, rate=16000)
    method = mixture_method()
    method.recipe = None
    tracks = discover_tracks(root, "test", is_wav=True)
    with pytest.warns(UserWarning, match="baseline-mixture.*cannot be rebuilt in a worker"):
        result = run_evaluation(tracks, [method], ["vocals"], tmp_path / "out", progress=False, jobs=2)
    assert result.scored == 2


def test_default_jobs_bounded_by_the_memory_of_the_longest_track(tmp_path):
    root = make_musdb_root(tmp_path / "root", "wav", {"test": 1}, seconds=2.0, rate=16000)
    track = discover_tracks(root, "test", is_wav=True)[0]
    assert track_length(track) == (32000, 16000, 2)
    short = worker_bytes(32000, 2, 4, models=False)
    ten_minutes = worker_bytes(10 * 60 * 44100, 2, 4, models=True)
    assert short < 2 << 30 < 8 << 30 < ten_minutes
    assert worker_bytes(32000, 2, 1, models=False) < short
