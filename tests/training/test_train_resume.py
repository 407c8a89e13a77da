"""A `cunet train` run killed with SIGKILL continues, with the same command, from its last
finished epoch: same weights and optimizer state, no epoch lost or repeated."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from cunet.config import load_config

EPOCHS, STEPS = 4, 10


def h5_arrays(path):
    import h5py

    arrays = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: arrays.append(obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return arrays


def test_killed_run_resumes_from_last_finished_epoch(tmp_path, cache_dir, capsys):
    run = tmp_path / "run"
    argv = [
        "train",
        "--config",
        "tiny",
        "--data",
        str(cache_dir),
        "--out",
        str(run),
        "--epochs",
        str(EPOCHS),
        "--steps-per-epoch",
        str(STEPS),
        "--no-tensorboard",
    ]
    command = [sys.executable, "-m", "cunet", *argv]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state_path = run / "resume" / "state.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if state_path.is_file() and json.loads(state_path.read_text())["epoch"] >= 1:
            break
        time.sleep(0.02)
    assert process.poll() is None, process.communicate()[1].decode()[-2000:]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    state = json.loads(state_path.read_text())
    epoch = state["epoch"]
    assert 1 <= epoch < EPOCHS and not state.get("finished")
    with (run / "training.csv").open() as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)][:epoch] == list(range(epoch))

    # what a restart restores: the saved weights and the optimizer state of that epoch
    import keras

    from cunet.model.unet import build_model
    from cunet.training.run import read_resume_state, training_model

    config = load_config(run / "config.yaml")
    assert config.training.epochs == EPOCHS and config.training.steps_per_epoch == STEPS
    assert read_resume_state(run) == state
    model, trainer = training_model(config, run, state)
    assert int(trainer.optimizer.iterations.numpy()) == epoch * STEPS
    saved = h5_arrays(run / "resume" / state["weights"])
    for weight in model.weights:
        value = keras.ops.convert_to_numpy(weight)
        assert any(a.shape == value.shape and np.array_equal(a, value) for a in saved), weight.path
    keras.utils.set_random_seed(config.training.seed)
    fresh = build_model(config)
    assert not all(np.array_equal(a, b) for a, b in zip(fresh.get_weights(), model.get_weights()))

    # the same command (here in this process) continues where the killed run stopped
    from cunet.cli import main

    assert main(argv) == 0
    assert f"resumed at epoch {epoch}" in capsys.readouterr().out
    with (run / "training.csv").open() as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == list(range(EPOCHS))
    info = json.loads((run / "run.json").read_text())
    assert len(info["starts"]) == 2
    assert json.loads(state_path.read_text())["finished"] is True
