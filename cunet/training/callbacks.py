"""The Keras callbacks of `cunet train`: checkpoints, resume state, time limit, replica sync;
and `export_best_tflite`, the LiteRT file written beside `best.keras` when a run finishes.

Order in the callback list matters: `ReplicaStatisticsSync` first (the saved models carry
the averaged statistics), `RunState` last (it records the other callbacks' counters after
their own epoch-end updates).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import keras

from cunet.config import Config
from cunet.fileio import atomic_path, atomic_write_text
from cunet.model.files import save_model
from cunet.separation.litert import paired_tflite
from cunet.training.rundir import BEST_MODEL, LAST_MODEL, RESUME_DIR, STATE_FILE


def _num(value) -> float:
    value = float(value)
    return value if value == value else float("inf")  # NaN never counts as best


class ModelCheckpoints(keras.callbacks.Callback):
    """Saves `model` (the U-Net inside the trained waveform model) as `last.keras` every
    epoch and as `best.keras` on a new lowest `monitor`.

    Files are written atomically through `cunet.model.files.save_model` (config embedded).
    `best` is restored by `RunState` when a run resumes.

    Args:
        model: the `keras.Model` to save (spectrogram in, spectrogram out).
        config: the resolved `Config`, embedded in every file.
        out_dir: the folder written into.
        monitor: the log whose lowest value makes `best.keras` ("loss" when absent).
    """

    def __init__(self, model, config: Config, out_dir: Path, monitor: str = "val_loss"):
        super().__init__()
        self.saved_model = model
        self.config = config
        self.out_dir = Path(out_dir)
        self.monitor = monitor
        self.best = float("inf")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        save_model(self.saved_model, self.config, self.out_dir / LAST_MODEL)
        value = logs.get(self.monitor, logs.get("loss"))
        if value is not None and float(value) < self.best:
            self.best = float(value)
            save_model(self.saved_model, self.config, self.out_dir / BEST_MODEL)


def export_command(best: Path) -> list[str]:
    """`cunet export` of `best`, run as its own process."""
    return [sys.executable, "-m", "cunet", "export", str(best), "--out", str(best.with_suffix(".tflite"))]


def export_best_tflite(out_dir: Path) -> Optional[Path]:
    """Write `best.tflite` beside `best.keras` (`cunet export`, a few seconds) unless one
    exported from that very file is there. The export runs in a process of its own, on the
    TensorFlow backend whatever this one uses, so the converter's memory never adds to the
    training process's (which holds the stems). A failure never fails training: one warning
    line on stderr, and None."""
    best = Path(out_dir) / BEST_MODEL
    if not best.is_file():
        return None
    if paired_tflite(best) is not None:
        return best.with_suffix(".tflite")
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    result = subprocess.run(export_command(best), env=env, capture_output=True, text=True)
    if result.returncode == 0 and paired_tflite(best) is not None:
        return best.with_suffix(".tflite")
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    reason = lines[-1].strip() if lines else f"exit code {result.returncode}"
    print(
        f"cunet train: warning: {best.with_suffix('.tflite').name} not written "
        f"(separation will use TensorFlow): {reason}",
        file=sys.stderr,
    )
    return None


class RunState(keras.callbacks.Callback):
    """Backs up the training state after every epoch so a killed run can continue.

    Writes `resume/epoch-NNNN.weights.h5` (model and optimizer variables) and then
    `resume/state.json` (epoch count, learning rate, counters of EarlyStopping,
    ReduceLROnPlateau and the best checkpoint), each atomically: the state always
    names a complete weights file of a finished epoch. Keep it last in the callback
    list so it records the other callbacks after their own epoch-end updates.

    Args:
        out_dir: the run directory (the state goes to `out_dir/resume`).
        early_stopping, reduce_lr: the run's `EarlyStopping` and `ReduceLROnPlateau`.
        checkpoints: the run's `ModelCheckpoints`.
        state: a state read by `read_resume_state`, restored into the three at train begin.
    """

    def __init__(self, out_dir: Path, early_stopping, reduce_lr, checkpoints, state=None):
        super().__init__()
        self.out_dir = Path(out_dir)
        self.early_stopping = early_stopping
        self.reduce_lr = reduce_lr
        self.checkpoints = checkpoints
        self.state = state

    def on_train_begin(self, logs=None):
        if not self.state:
            return
        counters = self.state["callbacks"]
        for name, callback in (("early_stopping", self.early_stopping), ("reduce_lr", self.reduce_lr)):
            for key, value in counters[name].items():
                setattr(callback, key, value)
        self.checkpoints.best = counters["checkpoints"]["best"]

    def on_epoch_end(self, epoch, logs=None):
        folder = self.out_dir / RESUME_DIR
        folder.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{epoch + 1:04d}.weights.h5"
        with atomic_path(folder / weights, suffix=".weights.h5") as tmp:
            self.model.save_weights(tmp)
        atomic_write_text(folder / STATE_FILE, json.dumps(self.counters(epoch + 1, weights), indent=1))
        for old in folder.glob("epoch-*.weights.h5"):
            if old.name != weights:
                old.unlink()

    def counters(self, epochs: int, weights: str) -> dict:
        """The state after `epochs` finished epochs whose variables are in `weights`."""
        es, lr = self.early_stopping, self.reduce_lr
        return {
            "epoch": epochs,
            "weights": weights,
            "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            "callbacks": {
                "early_stopping": {"wait": int(es.wait), "best": _num(es.best), "best_epoch": int(es.best_epoch)},
                "reduce_lr": {
                    "wait": int(lr.wait),
                    "best": _num(lr.best),
                    "cooldown_counter": int(lr.cooldown_counter),
                },
                "checkpoints": {"best": _num(self.checkpoints.best)},
            },
        }


class TimeLimit(keras.callbacks.Callback):
    """Stops training after the last epoch that fits in `seconds` of wall time.

    The next epoch is assumed to last as long as the one just finished. The run is not
    marked finished: the same command started again continues it.
    """

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self.stopped = False

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        if now - self.start + (now - self.epoch_start) > self.seconds:
            self.stopped = True
            self.model.stop_training = True


class ReplicaStatisticsSync(keras.callbacks.Callback):
    """Averages the float non-trainable variables (BatchNorm moving statistics) over all
    replicas at every epoch end.

    Gradients are all-reduced, so trainable weights stay identical on every replica, but
    each replica updates its BatchNorm moving mean/variance from its own slice of the
    batch. Averaging them (a collective: every worker runs it) gives every replica, every
    worker and the saved models the same statistics. Keep it first in the callback list.
    A no-op with one replica.
    """

    def __init__(self):
        super().__init__()
        self._sync = None

    def on_epoch_end(self, epoch, logs=None):
        strategy = getattr(self.model, "distribute_strategy", None)  # TensorFlow only
        if strategy is None or strategy.num_replicas_in_sync == 1:
            return
        if self._sync is None:
            self._sync = _mean_over_replicas(
                strategy, [v.value for v in self.model.non_trainable_variables if v.value.dtype.is_floating]
            )
        self._sync()


def _mean_over_replicas(strategy, variables):
    """A `tf.function` that sets every variable of `variables` to its mean over the replicas."""
    import tensorflow as tf

    def assign(strategy_, values):
        for variable, value in zip(variables, values):
            strategy_.extended.update(variable, lambda var, x: var.assign(x), args=(value,))

    def replica_fn():
        context = tf.distribute.get_replica_context()
        means = context.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.identity(v) for v in variables])
        context.merge_call(assign, args=(means,))

    return tf.function(lambda: strategy.run(replica_fn))
