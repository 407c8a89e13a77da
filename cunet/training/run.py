"""Training a U-Net or C-U-Net from a stem cache: strategy, callbacks, run directory.

`train(config, cache_dir, run_dir)` builds the model of `config` under a `tf.distribute`
strategy, feeds it `cunet.training.data.training_dataset` / `validation_dataset` and writes into
`run_dir`:

- `config.yaml` (the resolved config), `run.json` (command line, cunet/TF/Keras versions,
  strategy, replicas; one entry per start, so a resumed run shows its restarts);
- `last.keras` (end of every epoch) and `best.keras` (lowest validation loss), written
  atomically with `cunet.model.files.save_model` so each carries its config;
- `training.csv` (one row per finished epoch), `logs/` (TensorBoard);
- `resume/` (weights + optimizer state and the callbacks' counters of the last finished
  epoch): the same command started again after a crash, even a SIGKILL, continues from
  there; once training has ended normally it is marked finished and a new start does nothing.

Multi-worker rule: every worker runs the same callbacks (saving may involve collective
ops), but only the chief writes into `run_dir`; the others write into temporary folders
that are deleted. All workers read `run_dir/resume` when resuming, so `run_dir` must be on a
filesystem every worker sees.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from cunet import __version__
from cunet.config import Config, config_from_dict, save_config
from cunet.errors import CunetError
from cunet.fileio import atomic_path, atomic_write_text

STRATEGIES = ("auto", "default", "mirrored", "multiworker")
CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
CSV_FILE = "training.csv"
LAST_MODEL = "last.keras"
BEST_MODEL = "best.keras"
RESUME_DIR = "resume"
STATE_FILE = "state.json"


class TrainingError(CunetError):
    """A training run cannot start: bad options, an unusable run directory or data."""


@dataclass(frozen=True)
class TrainResult:
    """What a finished `train` call reports.

    Attributes:
        run_dir: the run directory.
        initial_epoch: the epoch this call started from (0, or > 0 when it resumed).
        epochs_done: epochs finished in total (including those of earlier calls).
        best_val_loss: the lowest validation loss seen (None without validation).
        history: per-epoch logs of this call (`keras.callbacks.History.history`).
        stopped_early: whether EarlyStopping ended the run.
        timed_out: whether the time limit ended it (start it again to continue).
        model: the trained `keras.Model` (None when the run had already finished).
    """

    run_dir: Path
    initial_epoch: int
    epochs_done: int
    best_val_loss: Optional[float]
    history: dict
    stopped_early: bool
    timed_out: bool = False
    model: object = field(default=None, repr=False, compare=False)


# ---------------------------------------------------------------------------------------
# Strategy


def _tf_config() -> Optional[dict]:
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise TrainingError(f"TF_CONFIG is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "cluster" not in data or "task" not in data:
        raise TrainingError('TF_CONFIG needs "cluster" and "task" entries')
    return data


def _cluster_size(tf_config: Optional[dict]) -> int:
    if not tf_config:
        return 1
    cluster = tf_config["cluster"]
    return sum(len(cluster.get(kind, [])) for kind in ("chief", "worker"))


def select_strategy(name: str = "auto"):
    """A `tf.distribute.Strategy` by name.

    - "default": no distribution (one device);
    - "mirrored": `MirroredStrategy` over this machine's GPUs, or over its logical CPU
      devices when there is no GPU (one replica per device);
    - "multiworker": `MultiWorkerMirroredStrategy`, cluster read from `TF_CONFIG`;
    - "auto": multiworker when `TF_CONFIG` names more than one worker, mirrored when
      there are several GPUs, default otherwise.
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise TrainingError(f"unknown strategy {name!r} (choose from {', '.join(STRATEGIES)})")
    tf_config = _tf_config()
    if name == "auto":
        if _cluster_size(tf_config) > 1:
            name = "multiworker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            name = "mirrored"
        else:
            name = "default"
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if tf_config is None:
        raise TrainingError(
            "--strategy multiworker needs TF_CONFIG describing the cluster (see the README)"
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def strategy_label(strategy) -> str:
    """The public name of `strategy` (MultiWorkerMirroredStrategy's class is named
    CollectiveAllReduceStrategy)."""
    name = type(strategy).__name__
    return "MultiWorkerMirroredStrategy" if name.startswith("CollectiveAllReduce") else name


def worker_role(strategy) -> tuple[int, int, bool]:
    """(worker index, number of workers, is chief) of this process under `strategy`."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "cluster_spec", None):
        return 0, 1, True
    spec = resolver.cluster_spec().as_dict()
    if not spec:
        return 0, 1, True
    workers = len(spec.get("chief", [])) + len(spec.get("worker", []))
    task_type, task_id = resolver.task_type, int(resolver.task_id or 0)
    if "chief" in spec:
        index = 0 if task_type == "chief" else task_id + 1
        chief = task_type == "chief"
    else:
        index = task_id
        chief = task_type in (None, "worker") and task_id == 0
    return index, workers, chief


# ---------------------------------------------------------------------------------------
# Run directory


def prepare_run_dir(run_dir: Union[str, Path], config: Config, command: list[str], strategy_name: str,
                    replicas: int) -> Path:
    """Create `run_dir`, write `config.yaml` and append this start to `run.json`.

    A run directory that already holds a run of another config is refused, so a resume
    can never mix two models.
    """
    run_dir = Path(run_dir).expanduser()
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=run_dir, prefix=".write-test-")
        probe.close()
    except OSError as exc:
        raise TrainingError(f"cannot write the run directory {run_dir}: {exc.strerror or exc}") from None
    config_path = run_dir / CONFIG_FILE
    if config_path.is_file():
        import yaml

        try:
            old = config_from_dict(yaml.safe_load(config_path.read_text()))
        except Exception:  # unreadable: not ours to reuse
            old = None
        if old is None or old.to_dict() != config.to_dict():
            raise TrainingError(
                f"{run_dir} holds a run of a different config ({config_path}); "
                "use another --out, or the same config and options to resume it"
            )
    save_config(config, config_path)
    import keras
    import tensorflow as tf

    run_path = run_dir / RUN_FILE
    starts = []
    if run_path.is_file():
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
        }
    )
    info = {
        "cunet_version": __version__,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "python": sys.version.split()[0],
        "config": config.name,
        "starts": starts,
    }
    atomic_write_text(run_path, json.dumps(info, indent=1) + "\n")
    return run_dir


def _read_state(run_dir: Path) -> Optional[dict]:
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


def _mark_finished(run_dir: Path) -> None:
    """Record that the run ended normally, so the same command started again does nothing."""
    path = run_dir / RESUME_DIR / STATE_FILE
    if path.is_file():
        state = json.loads(path.read_text())
        atomic_write_text(path, json.dumps({**state, "finished": True}, indent=1))


def _trim_csv(path: Path, epochs: int) -> None:
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


# ---------------------------------------------------------------------------------------
# Callbacks


def _make_callbacks():
    """The callback classes, defined on first use so importing this module stays light."""
    import keras

    from cunet.model.files import save_model

    class ModelCheckpoints(keras.callbacks.Callback):
        """Saves `model` (the U-Net inside the trained waveform model) as `last.keras` every
        epoch and as `best.keras` on a new lowest `monitor`.

        Files are written atomically through `cunet.model.files.save_model` (config embedded).
        `best` is restored by `RunState` when a run resumes.
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

    class RunState(keras.callbacks.Callback):
        """Backs up the training state after every epoch so a killed run can continue.

        Writes `resume/epoch-NNNN.weights.h5` (model and optimizer variables) and then
        `resume/state.json` (epoch count, learning rate, counters of EarlyStopping,
        ReduceLROnPlateau and the best checkpoint), each atomically: the state always
        names a complete weights file of a finished epoch. Keep it last in the callback
        list so it records the other callbacks after their own epoch-end updates.
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
            es, lr = self.early_stopping, self.reduce_lr
            state = {
                "epoch": epoch + 1,
                "weights": weights,
                "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
                "callbacks": {
                    "early_stopping": {"wait": int(es.wait), "best": _num(es.best),
                                       "best_epoch": int(es.best_epoch)},
                    "reduce_lr": {"wait": int(lr.wait), "best": _num(lr.best),
                                  "cooldown_counter": int(lr.cooldown_counter)},
                    "checkpoints": {"best": _num(self.checkpoints.best)},
                },
            }
            atomic_write_text(folder / STATE_FILE, json.dumps(state, indent=1))
            for old in folder.glob("epoch-*.weights.h5"):
                if old.name != weights:
                    old.unlink()

    class TimeLimit(keras.callbacks.Callback):
        """Stops training after the last epoch that fits in `seconds` of wall time.

        The run is not marked finished: the same command started again continues it.
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
        """

        def __init__(self):
            super().__init__()
            self._sync = None

        def on_epoch_end(self, epoch, logs=None):
            import tensorflow as tf

            strategy = self.model.distribute_strategy
            if strategy.num_replicas_in_sync == 1:
                return
            if self._sync is None:
                variables = [v.value for v in self.model.non_trainable_variables
                             if v.value.dtype.is_floating]

                def assign(strategy_, values):
                    for variable, value in zip(variables, values):
                        strategy_.extended.update(variable, lambda var, x: var.assign(x), args=(value,))

                def replica_fn():
                    context = tf.distribute.get_replica_context()
                    means = context.all_reduce(tf.distribute.ReduceOp.MEAN,
                                               [tf.identity(v) for v in variables])
                    context.merge_call(assign, args=(means,))

                self._sync = tf.function(lambda: strategy.run(replica_fn))
            self._sync()

    return ModelCheckpoints, RunState, TimeLimit, ReplicaStatisticsSync


@contextlib.contextmanager
def _multi_worker_keras_fixes(model, active: bool):
    """Work around two Keras 3 (<= 3.15) bugs of `fit` under a multi-worker strategy.

    1. With a model created under a strategy, `fit` mean-reduces a first batch for its
       symbolic build, which the collective strategy cannot do on nested batches: the
       functional model is built already, so `fit` takes the strategy from the scope.
    2. Logs (scalar metric results, already all-reduced by the metrics' variables) are
       reduced again along an axis 0 they do not have: reduce them over the local replicas
       as for a one-machine strategy.
    Both are undone on exit.
    """
    if not active:
        yield
        return
    from keras.src.backend.tensorflow import trainer

    saved_strategy, saved_check = model._distribute_strategy, trainer._collective_all_reduce_multi_worker
    model._distribute_strategy = None
    trainer._collective_all_reduce_multi_worker = lambda strategy: False
    try:
        yield
    finally:
        model._distribute_strategy = saved_strategy
        trainer._collective_all_reduce_multi_worker = saved_check


def _tensorboard_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        print("cunet train: tensorboard is not installed: no TensorBoard logs "
              "(pip install tensorboard)", file=sys.stderr)
        return False
    return True


def _num(value) -> float:
    value = float(value)
    return value if value == value else float("inf")  # NaN never counts as best


# ---------------------------------------------------------------------------------------
# Training


def read_resume_state(run_dir: Union[str, Path]) -> Optional[dict]:
    """The state of the last finished epoch of the run in `run_dir` (None: nothing to resume).

    Keys: "epoch" (epochs finished), "weights" (file in `run_dir/resume`), "learning_rate",
    "callbacks" (counters), "finished" (present once the run ended normally).
    """
    return _read_state(Path(run_dir).expanduser())


def training_model(config: Config, run_dir: Union[str, Path], state: Optional[dict], jit: bool = False):
    """(model, trainer) a run starts from: the U-Net or C-U-Net of `config` and the compiled
    `cunet.training.step.waveform_model` around it that `fit` trains on waveform batches;
    fresh, or restored from a resume `state` (weights, optimizer variables and learning
    rate). Call it in the strategy's scope."""
    from cunet.model.unet import build_model
    from cunet.training.step import waveform_model

    model = build_model(config, compile=False)
    trainer = waveform_model(model, config, jit_compile=bool(jit))
    if state:
        trainer.optimizer.build(trainer.trainable_variables)
        trainer.load_weights(Path(run_dir).expanduser() / RESUME_DIR / state["weights"])
        trainer.optimizer.learning_rate.assign(state["learning_rate"])
    return model, trainer


def train(
    config: Config,
    cache_dir: Union[str, Path],
    run_dir: Union[str, Path],
    *,
    strategy: str = "auto",
    mixed_precision: bool = False,
    jit: bool = False,
    verbose: Union[int, str] = "auto",
    command: Optional[list[str]] = None,
    tensorboard: bool = True,
    time_limit_s: Optional[float] = None,
) -> TrainResult:
    """Train the model of `config` on the stem cache in `cache_dir`, writing `run_dir`.

    The schedule comes from `config.training` (batch size = global batch over all
    replicas, steps per epoch, epochs, Adam learning rate, patiences). A run directory
    with a `resume/` state continues from its last finished epoch. `time_limit_s` ends
    the run after the last epoch that fits in that wall time (resumable, not finished).
    """
    import keras
    import tensorflow as tf

    from cunet.training import data
    from cunet.training.cache import open_cache

    t = config.training
    for key in ("batch_size", "steps_per_epoch", "epochs"):
        if getattr(t, key) < 1:
            raise TrainingError(f"training.{key} must be at least 1, got {getattr(t, key)}")
    if not t.learning_rate > 0:
        raise TrainingError(f"training.learning_rate must be positive, got {t.learning_rate}")

    cache = open_cache(cache_dir, config)
    if not cache.split("train"):
        raise TrainingError(f"the cache in {cache.root} has no training tracks")
    has_valid = bool(cache.split("valid"))

    dist = select_strategy(strategy)
    index, workers, chief = worker_role(dist)
    strategy_name = strategy_label(dist)
    if t.batch_size % dist.num_replicas_in_sync:
        raise TrainingError(
            f"batch size {t.batch_size} is not divisible by the {dist.num_replicas_in_sync} replicas"
        )
    run_dir = Path(run_dir).expanduser()
    scratch = None
    if chief:
        out_dir = prepare_run_dir(run_dir, config, command or [], strategy_name, dist.num_replicas_in_sync)
    else:
        scratch = Path(tempfile.mkdtemp(prefix=f"cunet-worker{index}-"))
        out_dir = scratch
    state = _read_state(run_dir)
    initial_epoch = int(state["epoch"]) if state else 0
    if state and (state.get("finished") or initial_epoch >= t.epochs):
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        best = state["callbacks"]["checkpoints"]["best"]
        return TrainResult(run_dir, initial_epoch, initial_epoch,
                           best if has_valid and best != float("inf") else None, {}, False)
    if chief:
        _trim_csv(run_dir / CSV_FILE, initial_epoch)

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    per_worker_batch = t.batch_size // workers
    # each worker draws its own examples; a resumed run does not replay the first batches
    train_data = data.training_dataset(config, cache, batch_size=per_worker_batch,
                                       seed=t.seed + 1000 * index + initial_epoch).with_options(options)
    valid_data = None
    if has_valid:
        valid_data = data.validation_dataset(config, cache, batch_size=per_worker_batch).with_options(options)
        if t.validation_steps:
            valid_data = valid_data.take(t.validation_steps)
        # the validation chunks are the same every epoch: gather them once
        valid_data = valid_data.cache()

    previous_policy = keras.config.dtype_policy()
    if mixed_precision:
        gpus = tf.config.list_logical_devices("GPU")
        keras.config.set_dtype_policy("mixed_float16" if gpus else "mixed_bfloat16")
    ModelCheckpoints, RunState, TimeLimit, ReplicaStatisticsSync = _make_callbacks()
    try:
        keras.utils.set_random_seed(t.seed)
        with dist.scope():
            model, trainer = training_model(config, run_dir, state, jit=jit)

        monitor = "val_loss" if has_valid else "loss"
        early_stopping = keras.callbacks.EarlyStopping(
            monitor=monitor, patience=t.early_stopping_patience, verbose=1
        )
        reduce_lr = keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, factor=t.reduce_lr_factor, patience=t.reduce_lr_patience,
            min_lr=t.min_learning_rate, min_delta=0.0, verbose=1,
        )
        checkpoints = ModelCheckpoints(model, config, out_dir, monitor=monitor)
        callbacks = [
            ReplicaStatisticsSync(),
            keras.callbacks.CSVLogger(str(out_dir / CSV_FILE), append=True),
            early_stopping,
            reduce_lr,
            checkpoints,
        ]
        if tensorboard and _tensorboard_available():
            callbacks.append(keras.callbacks.TensorBoard(str(out_dir / "logs"), write_graph=False,
                                                         profile_batch=0))
        time_limit = TimeLimit(time_limit_s) if time_limit_s else None
        if time_limit:
            callbacks.append(time_limit)
        callbacks.append(RunState(out_dir, early_stopping, reduce_lr, checkpoints, state))

        if verbose == "auto":
            verbose = 1 if sys.stdout.isatty() else 2
        with dist.scope(), _multi_worker_keras_fixes(trainer, workers > 1):
            fit = trainer.fit(
                train_data,
                steps_per_epoch=t.steps_per_epoch,
                epochs=t.epochs,
                initial_epoch=initial_epoch,
                validation_data=valid_data,
                callbacks=callbacks,
                verbose=verbose,
                shuffle=False,
            )
        history = fit.history
    finally:
        keras.config.set_dtype_policy(previous_policy)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)

    epochs_done = initial_epoch + len(history.get("loss", []))
    stopped_early = bool(early_stopping.stopped_epoch)
    timed_out = bool(time_limit and time_limit.stopped)
    if chief and not timed_out:
        _mark_finished(run_dir)
    best = checkpoints.best if checkpoints.best != float("inf") else None
    return TrainResult(run_dir, initial_epoch, epochs_done, best if has_valid else None, history,
                       stopped_early, timed_out, model)

