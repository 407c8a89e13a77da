"""Warm starts (`cunet train --init MODEL.keras`): a fresh run from a saved model's weights.

The model must be of the run's architecture: its embedded config equal in the sections
`cunet.config.ARCHITECTURE_SECTIONS` (instruments, audio, patch, model); its training and
data sections may differ (fine-tuning on other data, with another schedule). A run that
resumes ignores the init model: its checkpoint holds newer weights. `run.json` records the
file's path and SHA-256 (`InitModel.record`).
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from cunet.config import Config, differing_keys
from cunet.model.files import load_model, read_model_config
from cunet.training import TrainingError
from cunet.training.rundir import file_sha256, read_resume_state


@dataclass(frozen=True)
class InitModel:
    """The model a fresh run starts from (`cunet train --init`): its file, the file's SHA-256
    and its weights (NumPy arrays in the order of `build_model(config).weights`)."""

    path: Path
    sha256: str
    weights: list = field(repr=False)

    def record(self) -> dict:
        """What `run.json` keeps of it."""
        return {"path": str(self.path.resolve()), "sha256": self.sha256}


def read_init_model(path: Union[str, Path], config: Config) -> InitModel:
    """The weights of the cunet model file `path` for a run of `config`: refused (one line
    naming the keys) when its embedded config differs in the architecture (instruments,
    audio, patch, model); its training and data sections may differ."""
    path = Path(path).expanduser()
    theirs = read_model_config(path)
    differing = differing_keys(theirs, config)
    if differing:
        shown = ", ".join(
            f"{key} ({_value(theirs, key)!r} in the model, {_value(config, key)!r} in the config)"
            for key in differing[:4]
        )
        more = f" and {len(differing) - 4} more" if len(differing) > 4 else ""
        raise TrainingError(f"--init {path}: not the architecture of this config: {shown}{more} differ")
    model, _ = load_model(path)
    return InitModel(path, file_sha256(path), model.get_weights())


def _value(config: Config, key: str):
    """The value of a dotted config key ("model.filters")."""
    return functools.reduce(lambda section, name: section[name], key.split("."), config.to_dict())


def init_for_run(path, config: Config, run_dir: Path) -> Optional[InitModel]:
    """The `--init` model of a fresh run; None without one or when the run resumes."""
    if path is None:
        return None
    if read_resume_state(run_dir) is not None:
        print(
            f"cunet train: {run_dir} resumes from its last finished epoch: --init {path} is ignored "
            "(the run's checkpoint holds newer weights)",
            file=sys.stderr,
        )
        return None
    return read_init_model(path, config)
