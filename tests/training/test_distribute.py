"""Strategy selection, worker roles and the version-gated Keras multi-worker workaround.

`test_the_keras_workaround_applies_to_the_installed_keras` fails on purpose when Keras
moves outside `KERAS_VERIFIED` or drops the private names the workaround patches: check
multi-worker training (tests/training/test_train_distributed.py) on that Keras, then widen the range.
"""

import json

import keras
import pytest

from cunet.training import TrainingError, distribute


def test_the_keras_workaround_applies_to_the_installed_keras():
    (low, high) = distribute.KERAS_VERIFIED
    version = tuple(int(p) for p in keras.__version__.split(".")[:2])
    assert low <= version <= high, (
        f"Keras {keras.__version__} is outside the verified range {distribute.KERAS_VERIFIED} "
        "of cunet.training.distribute.multi_worker_keras_fixes: verify multi-worker training "
        "on it and update KERAS_VERIFIED"
    )
    trainer = distribute.keras_trainer_module()
    assert callable(trainer._collective_all_reduce_multi_worker)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    assert hasattr(model, "_distribute_strategy"), "keras.Model no longer has _distribute_strategy"


def test_the_workaround_patches_and_restores():
    trainer = distribute.keras_trainer_module()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    saved_strategy, saved_check = model._distribute_strategy, trainer._collective_all_reduce_multi_worker
    with distribute.multi_worker_keras_fixes(model, active=True):
        assert model._distribute_strategy is None
        assert trainer._collective_all_reduce_multi_worker(object()) is False
    assert model._distribute_strategy is saved_strategy
    assert trainer._collective_all_reduce_multi_worker is saved_check
    with distribute.multi_worker_keras_fixes(model, active=False):
        assert trainer._collective_all_reduce_multi_worker is saved_check


def test_an_unverified_keras_is_refused_with_one_clear_line(monkeypatch):
    monkeypatch.setattr(keras, "__version__", "3.99.0")
    with pytest.raises(TrainingError, match="verified on Keras .* Keras 3.99.0 is installed"):
        distribute.keras_trainer_module()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(TrainingError):
        with distribute.multi_worker_keras_fixes(model, active=True):
            pass
    with distribute.multi_worker_keras_fixes(model, active=False):  # one machine: no patch needed
        pass


def test_strategy_names_and_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(TrainingError, match="unknown strategy 'ring'"):
        distribute.select_strategy("ring")
    with pytest.raises(TrainingError, match="needs TF_CONFIG"):
        distribute.select_strategy("multiworker")
    default = distribute.select_strategy("default")
    assert distribute.worker_role(default) == (0, 1, True)
    assert distribute.strategy_label(default) == type(default).__name__
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(TrainingError, match="not valid JSON"):
        distribute.select_strategy("auto")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {}}))
    with pytest.raises(TrainingError, match='"cluster" and "task"'):
        distribute.select_strategy("auto")
    two = {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 0}}
    assert distribute._cluster_size(two) == 2 and distribute._cluster_size(None) == 1
