"""The run directory of `cunet train`: what a run writes and what a restart reads back.

- `config.yaml`: the resolved config (a directory never mixes two configs);
- `run.json`: cunet/TensorFlow/Keras/Python versions and one entry per start (command line,
  strategy, replicas; the path and SHA-256 of the `--init` model a fresh run started from),
  so a resumed run shows its restarts;
- `last.keras`, `best.keras`, `training.csv`, `logs/`: written by the callbacks;
- `resume/`: `epoch-NNNN.weights.h5` and `state.json` of the last finished epoch
  (`cunet.training.callbacks.RunState`); `"finished": true` once the run ended normally.
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional, Union

from cunet import __version__
from cunet.config import Config, config_from_dict, save_config
from cunet.fileio import atomic_path, atomic_write_text
from cunet.training import TrainingError

CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
CSV_FILE = "training.csv"
LAST_MODEL = "last.keras"
BEST_MODEL = "best.keras"
RESUME_DIR = "resume"
STATE_FILE = "state.json"


def prepare_run_dir(
    run_dir: Union[str, Path],
    config: Config,
    command: list[str],
    strategy_name: str,
    replicas: int,
    init: Optional[dict] = None,
) -> Path:
    """Create `run_dir`, write `config.yaml` and append this start to `run.json` (with
    `init`, the model a fresh run starts from, when given).

    A run directory that holds finished epochs of another config is refused, so a resume
    can never mix two models; one whose earlier starts finished no epoch (a failed first
    start) is taken over by the new config, its earlier starts dropped from `run.json`.
    """
    run_dir = Path(run_dir).expanduser()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write-test-")
        probe.close()
    except OSError as exc:
        raise TrainingError(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None
    config_path = run_dir / CONFIG_FILE
    fresh_config = False
    if config_path.is_file() and _saved_config(config_path) != config.to_dict():
        if has_finished_epochs(run_dir):
            raise TrainingError(
                f"{run_dir} holds a run of a different config ({config_path}); "
                "use another --out, or the same config and options to resume it"
            )
        print(
            f"cunet train: {run_dir} held no finished epoch of another config: starting it afresh with this one",
            file=sys.stderr,
        )
        fresh_config = True
    save_config(config, config_path)
    _append_start(run_dir / RUN_FILE, config, command, strategy_name, replicas, init, fresh_config)
    return run_dir


def _saved_config(path: Path) -> Optional[dict]:
    """The config dict saved at `path`; None when unreadable (then not ours to reuse)."""
    import yaml

    try:
        return config_from_dict(yaml.safe_load(path.read_text())).to_dict()
    except Exception:
        return None


def has_finished_epochs(run_dir: Union[str, Path]) -> bool:
    """Whether a run in `run_dir` finished an epoch (its resume state or a checkpoint exists)."""
    run_dir = Path(run_dir)
    return any((run_dir / name).exists() for name in (f"{RESUME_DIR}/{STATE_FILE}", LAST_MODEL, BEST_MODEL))


def _append_start(
    run_path: Path,
    config: Config,
    command: list[str],
    strategy_name: str,
    replicas: int,
    init: Optional[dict],
    drop_earlier: bool,
) -> None:
    import keras
    import tensorflow as tf

    starts = []
    if run_path.is_file() and not drop_earlier:
        try:
            starts = json.loads(run_path.read_text()).get("starts", [])
        except (json.JSONDecodeError, AttributeError):
            starts = []
    starts.append(
        {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "command": command,
            "strategy": strategy_name,
            "replicas": replicas,
            **({"init": init} if init else {}),
        }
    )
    info = {
        "cunet_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "python": sys.version.split()[0],
        "config": config.name,
        "starts": starts,
    }
    atomic_write_text(run_path, json.dumps(info, indent=1) + "\n")


def read_resume_state(run_dir: Union[str, Path]) -> Optional[dict]:
    """The state of the last finished epoch of the run in `run_dir` (None: nothing to resume).

    Keys: "epoch" (epochs finished), "weights" (file in `run_dir/resume`), "learning_rate",
    "callbacks" (counters), "finished" (present once the run ended normally).
    """
    run_dir = Path(run_dir).expanduser()
    path = run_dir / RESUME_DIR / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except json.JSONDecodeError:
        raise TrainingError(f"{path} is corrupt; delete {path.parent} to restart the run from scratch") from None
    if not (run_dir / RESUME_DIR / state["weights"]).is_file():
        raise TrainingError(f"{path} names missing weights; delete {path.parent} to restart from scratch")
    return state


def file_sha256(path: Union[str, Path]) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mark_finished(run_dir: Path) -> None:
    """Record that the run ended normally, so the same command started again does nothing."""
    path = run_dir / RESUME_DIR / STATE_FILE
    if path.is_file():
        state = json.loads(path.read_text())
        atomic_write_text(path, json.dumps({**state, "finished": True}, indent=1))


def trim_csv(path: Path, epochs: int) -> None:
    """Keep the header and the rows of the first `epochs` epochs (drop an unfinished one)."""
    if not path.is_file():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) < epochs]
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        csv.writer(f).writerows(kept)
