"""Training a U-Net or C-U-Net from a stem cache: `train`, and the model a run starts from.

Over 300 lines only by the formatter's one-argument-per-line calls (about 290 before it).

`train(config, cache_dir, run_dir)` builds the model of `config` under a `tf.distribute`
strategy (`cunet.training.distribute`), feeds it `cunet.training.data.training_dataset` /
`validation_dataset` and writes into `run_dir` (`cunet.training.rundir`): the resolved
config, `run.json`, `last.keras` / `best.keras` (each carrying its config), `training.csv`,
TensorBoard `logs/` and a `resume/` state (`cunet.training.callbacks`); a fresh run may
start from a saved model's weights (`cunet.training.warmstart`, `--init`). The same command
started again after a crash, even a SIGKILL, continues from the last finished epoch; once
training has ended normally it is marked finished and a new start does nothing.

Backends: the Keras backend (`KERAS_BACKEND`, `cunet train --backend`) trains; on JAX the
tf.data pipeline still feeds it (TensorFlow on the CPU side only, its GPUs hidden) and
`tf.distribute` strategies are refused: JAX trains on one device.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from cunet.config import Config, validate_config
from cunet.kernels.switch import load_weights_either_form, use_cpu_kernels
from cunet.model.parts import other_form
from cunet.model.unet import build_model
from cunet.training import TrainingError, data
from cunet.training.backends import keras_backend, mixed_policy, run_strategy  # noqa: F401 (public here too)
from cunet.training.cache import open_cache
from cunet.training.callbacks import (
    ModelCheckpoints,
    ReplicaStatisticsSync,
    RunState,
    TimeLimit,
    export_best_tflite,
)
from cunet.training.distribute import (  # noqa: F401  (STRATEGIES, select_strategy: public here too)
    STRATEGIES,
    keras_trainer_module,
    multi_worker_keras_fixes,
    select_strategy,
    strategy_label,
    worker_role,
)
from cunet.training.rundir import (  # noqa: F401  (file names: public here too)
    BEST_MODEL,
    CONFIG_FILE,
    CSV_FILE,
    LAST_MODEL,
    RESUME_DIR,
    RUN_FILE,
    STATE_FILE,
    mark_finished,
    prepare_run_dir,
    read_resume_state,
    trim_csv,
)
from cunet.training.step import waveform_model
from cunet.training.warmstart import InitModel, init_for_run


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


def training_model(
    config: Config,
    run_dir: Union[str, Path],
    state: Optional[dict],
    jit: bool = False,
    init: Optional[InitModel] = None,
):
    """(model, trainer) a run starts from: the U-Net or C-U-Net of `config` and the compiled
    `cunet.training.step.waveform_model` around it that `fit` trains on waveform batches;
    fresh (with the weights of `init` when given), or restored from a resume `state`
    (weights, optimizer variables and learning rate; `init` is then ignored). Call it in the
    strategy's scope. On a CPU the model is in the CPU forms of `cunet.kernels.switch`
    (saved files are stock all the same)."""
    unet = build_model(config, compile=False)
    if init is not None and not state:
        unet.set_weights(init.weights)
    model = use_cpu_kernels(unet)
    # Keras runs a JAX step uncompiled when jit_compile is False: always compile there
    trainer = waveform_model(model, config, jit_compile=bool(jit) or keras_backend() == "jax")
    if state:
        trainer.optimizer.build(trainer.trainable_variables)
        load_weights_either_form(
            trainer,
            Path(run_dir).expanduser() / RESUME_DIR / state["weights"],
            lambda: waveform_model(other_form(model, config), config),
        )
        trainer.optimizer.learning_rate.assign(state["learning_rate"])
    return model, trainer


def train(
    config: Config,
    cache_dir: Union[str, Path],
    run_dir: Union[str, Path],
    *,
    strategy: str = "auto",
    mixed_precision: Union[bool, str] = False,
    jit: bool = False,
    verbose: Union[int, str] = "auto",
    command: Optional[list[str]] = None,
    tensorboard: bool = True,
    time_limit_s: Optional[float] = None,
    init: Union[None, str, Path] = None,
) -> TrainResult:
    """Train the model of `config` on the stem cache in `cache_dir`, writing `run_dir`.

    The schedule comes from `config.training` (batch size = global batch over all
    replicas, steps per epoch, epochs, Adam learning rate, patiences). A run directory
    with a `resume/` state continues from its last finished epoch. `time_limit_s` ends
    the run after the last epoch that fits in that wall time (resumable, not finished).
    `mixed_precision`: False, True / "auto", "bfloat16" or "float16" (`mixed_policy`).
    `init`: a cunet model file of the same architecture whose weights a fresh run starts
    from (fine-tuning); a resumed run ignores it (its checkpoint holds newer weights).
    """
    validate_config(config)  # a Config built by hand, not loaded: the loader's checks
    _check_loss(config)
    cache = _training_cache(config, cache_dir)
    has_valid = bool(cache.split("valid"))

    mixed_policy(mixed_precision)  # a bad value fails before any work
    dist = run_strategy(strategy)
    index, workers, chief = worker_role(dist)
    if workers > 1:
        keras_trainer_module()  # an unverified Keras fails here, before any work
    _check_replicas(config, dist)
    init_model = init_for_run(init, config, Path(run_dir).expanduser())
    run_dir = Path(run_dir).expanduser()
    scratch = None
    if chief:
        out_dir = prepare_run_dir(
            run_dir,
            config,
            command or [],
            strategy_label(dist),
            dist.num_replicas_in_sync,
            init_model.record() if init_model else None,
        )
    else:
        out_dir = scratch = Path(tempfile.mkdtemp(prefix=f"cunet-worker{index}-"))
    try:
        state = read_resume_state(run_dir)
        initial_epoch = int(state["epoch"]) if state else 0
        if state and (state.get("finished") or initial_epoch >= config.training.epochs):
            if chief:
                export_best_tflite(run_dir)  # a run finished before best.tflite existed
            best = state["callbacks"]["checkpoints"]["best"]
            return TrainResult(
                run_dir, initial_epoch, initial_epoch, best if has_valid and best != float("inf") else None, {}, False
            )
        if chief:
            trim_csv(run_dir / CSV_FILE, initial_epoch)
        run = _Run(config, cache, dist, index, workers, run_dir, out_dir, state, has_valid, init_model)
        result = run.fit(mixed_precision, jit, verbose, tensorboard, time_limit_s)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    if chief and not result.timed_out:
        mark_finished(run_dir)
        export_best_tflite(run_dir)  # LiteRT separation of the best model (`cunet separate`)
    return result


def _training_cache(config: Config, cache_dir):
    cache = open_cache(cache_dir, config)
    if not cache.split("train"):
        raise TrainingError(f"the cache in {cache.root} has no training tracks")
    return cache


def _check_loss(config: Config) -> None:
    """An unknown `training.loss` fails here, before the run folder, not at compile time."""
    import keras

    try:
        keras.losses.get(config.training.loss)
    except ValueError:
        raise TrainingError(
            f"training.loss: {config.training.loss!r} is not a Keras loss "
            "(e.g. mean_absolute_error, mean_squared_error, huber)"
        ) from None


def _check_replicas(config: Config, dist) -> None:
    if config.training.batch_size % dist.num_replicas_in_sync:
        raise TrainingError(
            f"batch size {config.training.batch_size} is not divisible by the {dist.num_replicas_in_sync} replicas"
        )


def _tensorboard_available() -> bool:
    import importlib.util

    if importlib.util.find_spec("tensorboard") is None:
        print(
            "cunet train: tensorboard is not installed: no TensorBoard logs (pip install tensorboard)", file=sys.stderr
        )
        return False
    return True


@dataclass
class _Run:
    """One `train` call once its run directory and resume state are settled."""

    config: Config
    cache: object
    dist: object
    index: int
    workers: int
    run_dir: Path
    out_dir: Path
    state: Optional[dict]
    has_valid: bool
    init: Optional[InitModel] = None

    @property
    def initial_epoch(self) -> int:
        return int(self.state["epoch"]) if self.state else 0

    def datasets(self):
        """(training, validation or None) datasets of this worker's share of the global batch."""
        import tensorflow as tf

        if keras_backend() != "tensorflow":  # TensorFlow only feeds: the accelerator is the backend's
            tf.config.set_visible_devices([], "GPU")
        t = self.config.training
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        per_worker_batch = t.batch_size // self.workers
        # each worker draws its own examples; a resumed run does not replay the first batches
        seed = t.seed + 1000 * self.index + self.initial_epoch
        train_data = data.training_dataset(
            self.config, self.cache, batch_size=per_worker_batch, seed=seed
        ).with_options(options)
        if not self.has_valid:
            return train_data, None
        valid_data = data.validation_dataset(self.config, self.cache, batch_size=per_worker_batch).with_options(options)
        if t.validation_steps:
            valid_data = valid_data.take(t.validation_steps)
        # the validation chunks are the same every epoch: gather them once
        return train_data, valid_data.cache()

    def callbacks(self, model, tensorboard: bool, time_limit_s: Optional[float]) -> dict:
        """The run's callbacks by role; "all" lists them in the order `fit` calls them."""
        import keras

        t = self.config.training
        monitor = "val_loss" if self.has_valid else "loss"
        early_stopping = keras.callbacks.EarlyStopping(monitor=monitor, patience=t.early_stopping_patience, verbose=1)
        reduce_lr = keras.callbacks.ReduceLROnPlateau(
            monitor=monitor,
            factor=t.reduce_lr_factor,
            patience=t.reduce_lr_patience,
            min_lr=t.min_learning_rate,
            min_delta=0.0,
            verbose=1,
        )
        checkpoints = ModelCheckpoints(model, self.config, self.out_dir, monitor=monitor)
        every = [
            ReplicaStatisticsSync(),
            keras.callbacks.CSVLogger(str(self.out_dir / CSV_FILE), append=True),
            early_stopping,
            reduce_lr,
            checkpoints,
        ]
        if tensorboard and _tensorboard_available():
            every.append(keras.callbacks.TensorBoard(str(self.out_dir / "logs"), write_graph=False, profile_batch=0))
        time_limit = TimeLimit(time_limit_s) if time_limit_s else None
        if time_limit:
            every.append(time_limit)
        every.append(RunState(self.out_dir, early_stopping, reduce_lr, checkpoints, self.state))
        return {"all": every, "early_stopping": early_stopping, "checkpoints": checkpoints, "time_limit": time_limit}

    def fit(self, mixed_precision, jit: bool, verbose, tensorboard: bool, time_limit_s: Optional[float]) -> TrainResult:
        import keras

        t = self.config.training
        train_data, valid_data = self.datasets()
        previous_policy = keras.config.dtype_policy()
        policy = mixed_policy(mixed_precision)
        if policy:
            keras.config.set_dtype_policy(policy)
        try:
            keras.utils.set_random_seed(t.seed)
            with self.dist.scope():
                model, trainer = training_model(self.config, self.run_dir, self.state, jit=jit, init=self.init)
            callbacks = self.callbacks(model, tensorboard, time_limit_s)
            if verbose == "auto":
                verbose = 1 if sys.stdout.isatty() else 2
            with self.dist.scope(), multi_worker_keras_fixes(trainer, self.workers > 1):
                history = trainer.fit(
                    train_data,
                    steps_per_epoch=t.steps_per_epoch,
                    epochs=t.epochs,
                    initial_epoch=self.initial_epoch,
                    validation_data=valid_data,
                    callbacks=callbacks["all"],
                    verbose=verbose,
                    shuffle=False,
                ).history
        finally:
            keras.config.set_dtype_policy(previous_policy)
        best = callbacks["checkpoints"].best
        best = best if best != float("inf") and self.has_valid else None
        time_limit = callbacks["time_limit"]
        return TrainResult(
            self.run_dir,
            self.initial_epoch,
            self.initial_epoch + len(history.get("loss", [])),
            best,
            history,
            bool(callbacks["early_stopping"].stopped_epoch),
            bool(time_limit and time_limit.stopped),
            model,
        )
