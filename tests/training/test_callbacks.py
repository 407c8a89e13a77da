"""The training callbacks by name, driven by hand on tiny models: what each writes and restores."""

import json

import keras
import numpy as np
import pytest

from cunet.model.files import load_model
from cunet.model.unet import build_model
from cunet.training import callbacks as cb
from cunet.training.rundir import BEST_MODEL, LAST_MODEL, RESUME_DIR, STATE_FILE


def small_trainer():
    """A compiled two-weight model with a built optimizer, as `fit` leaves it."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    model.fit(np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32), epochs=1, verbose=0)
    return model


def plateau_callbacks(model):
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5)
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", patience=3)
    for callback in (early, reduce):
        callback.set_model(model)
        callback.on_train_begin()
    return early, reduce


def test_model_checkpoints_last_every_epoch_best_on_a_new_low(tmp_path, tiny):
    model = build_model(tiny, compile=False)
    checkpoints = cb.ModelCheckpoints(model, tiny, tmp_path)
    checkpoints.on_epoch_end(0, {"val_loss": 0.5})
    assert checkpoints.best == 0.5 and (tmp_path / BEST_MODEL).is_file()
    best_bytes = (tmp_path / BEST_MODEL).read_bytes()
    (tmp_path / LAST_MODEL).unlink()
    checkpoints.on_epoch_end(1, {"val_loss": 0.7})
    assert (tmp_path / LAST_MODEL).is_file() and checkpoints.best == 0.5
    assert (tmp_path / BEST_MODEL).read_bytes() == best_bytes
    checkpoints.on_epoch_end(2, {"loss": 0.2})  # no validation: the training loss decides
    assert checkpoints.best == 0.2
    loaded, config = load_model(tmp_path / BEST_MODEL)
    assert config.to_dict() == tiny.to_dict()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # atomic: no temp files


def test_run_state_records_counters_and_restores_them(tmp_path):
    model = small_trainer()
    early, reduce = plateau_callbacks(model)
    checkpoints = type("Checkpoints", (), {"best": float("nan")})()
    state = cb.RunState(tmp_path, early, reduce, checkpoints)
    state.set_model(model)
    early.on_epoch_end(0, {"val_loss": 2.0})
    reduce.on_epoch_end(0, {"val_loss": 2.0, "learning_rate": 1e-3})
    state.on_epoch_end(0, {})
    early.on_epoch_end(1, {"val_loss": 3.0})
    state.on_epoch_end(1, {})
    folder = tmp_path / RESUME_DIR
    saved = json.loads((folder / STATE_FILE).read_text())
    assert saved["epoch"] == 2 and saved["weights"] == "epoch-0002.weights.h5"
    assert sorted(p.name for p in folder.iterdir()) == ["epoch-0002.weights.h5", STATE_FILE]
    assert saved["learning_rate"] == pytest.approx(1e-3)
    assert saved["callbacks"]["early_stopping"] == {"wait": 1, "best": 2.0, "best_epoch": 0}
    assert saved["callbacks"]["checkpoints"]["best"] == float("inf")  # NaN never counts as best

    fresh_early, fresh_reduce = plateau_callbacks(model)
    fresh_checkpoints = type("Checkpoints", (), {"best": float("inf")})()
    restore = cb.RunState(tmp_path, fresh_early, fresh_reduce, fresh_checkpoints, state=saved)
    restore.on_train_begin()
    assert (fresh_early.wait, fresh_early.best, fresh_early.best_epoch) == (1, 2.0, 0)
    assert (fresh_reduce.wait, fresh_reduce.best) == (reduce.wait, 2.0)


def test_time_limit_stops_when_the_next_epoch_would_not_fit(monkeypatch):
    clock = iter([0.0, 0.0, 30.0, 30.0, 61.0])
    monkeypatch.setattr(cb.time, "monotonic", lambda: next(clock))
    model = small_trainer()
    limit = cb.TimeLimit(100.0)
    limit.set_model(model)
    limit.on_train_begin()
    limit.on_epoch_begin(0)
    limit.on_epoch_end(0)  # 30 s spent, another 30 s fits in 100 s
    assert not limit.stopped and not model.stop_training
    limit.on_epoch_begin(1)
    limit.on_epoch_end(1)  # 61 s spent, another 31 s would end at 92 s: fits
    assert not limit.stopped
    clock = iter([61.0, 95.0])
    monkeypatch.setattr(cb.time, "monotonic", lambda: next(clock))
    limit.on_epoch_begin(2)
    limit.on_epoch_end(2)  # 95 s spent: another 34 s does not fit
    assert limit.stopped and model.stop_training


def test_replica_statistics_sync_is_a_no_op_with_one_replica():
    model = small_trainer()
    before = [v.numpy().copy() for v in model.variables]
    sync = cb.ReplicaStatisticsSync()
    sync.set_model(model)
    sync.on_epoch_end(0)
    assert sync._sync is None
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables))
