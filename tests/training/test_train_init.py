"""`cunet train --init MODEL.keras`: a fresh run starts from the weights of a model of the same
architecture (its training and data sections may differ), records the file and its SHA-256 in
run.json; another architecture is refused in one line; a resumed run ignores --init."""

import hashlib
import json

import numpy as np
import pytest

from cunet.cli import main
from cunet.model.files import load_model, save_model
from model_fixtures import randomize


def saved_model(path, config, seed):
    from cunet.model.unet import build_model

    model = build_model(config, compile=False)
    randomize(model, seed)
    return save_model(model, config, path)


@pytest.fixture(scope="module")
def init_files(tmp_path_factory, tiny):
    """Two models of the tiny architecture with other weights and other training/data settings."""
    folder = tmp_path_factory.mktemp("init")
    config = tiny.replace(training={"epochs": 9, "learning_rate": 0.01}, data={"remix_probability": 0.5})
    return [saved_model(folder / f"init{seed}.keras", config, seed) for seed in (1, 2)]


def max_difference(a, b) -> float:
    """The largest difference between the trainable weights of two models."""
    return max(
        float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
        for x, y in zip(a.trainable_weights, b.trainable_weights, strict=True)
    )


def test_the_run_starts_from_the_init_weights(tmp_path, tiny, init_files):
    from cunet.training.run import training_model
    from cunet.training.warmstart import read_init_model

    init = read_init_model(init_files[0], tiny)
    model, _ = training_model(tiny, tmp_path / "run", None, init=init)  # after 0 steps
    expected, _ = load_model(init_files[0])
    for ours, theirs in zip(model.get_weights(), expected.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_fresh_run_from_init_then_a_resume_ignores_init(tmp_path, cache_dir, init_files, capsys):
    from cunet.model.unet import build_model

    run = tmp_path / "run"
    argv = [
        "train",
        "--config",
        "tiny",
        "--data",
        str(cache_dir),
        "--out",
        str(run),
        "--steps-per-epoch",
        "2",
        "--epochs",
        "3",
        "--learning-rate",
        "1e-5",
        "--quiet",
        "--no-tensorboard",
        "--time-limit",
        "0.0001",
    ]
    assert main([*argv, "--init", str(init_files[0])]) == 0  # one epoch, then the time limit stops it
    start = json.loads((run / "run.json").read_text())["starts"][0]
    digest = hashlib.sha256(init_files[0].read_bytes()).hexdigest()
    assert start["init"] == {"path": str(init_files[0].resolve()), "sha256": digest}
    after_one, config = load_model(run / "last.keras")
    init, _ = load_model(init_files[0])
    assert max_difference(after_one, init) < 1e-3  # two steps at 1e-5 from the init weights
    assert max_difference(build_model(config, compile=False), init) > 0.1  # not a fresh model's

    capsys.readouterr()
    assert main([*argv, "--init", str(init_files[1])]) == 0
    err = capsys.readouterr().err
    assert f"--init {init_files[1]} is ignored" in err
    starts = json.loads((run / "run.json").read_text())["starts"]
    assert len(starts) == 2 and "init" not in starts[1]
    assert json.loads((run / "resume" / "state.json").read_text())["epoch"] == 2
    after_two, _ = load_model(run / "last.keras")
    other, _ = load_model(init_files[1])
    assert max_difference(after_two, after_one) < 1e-3 and max_difference(after_two, other) > 0.1


def test_another_architecture_is_refused_before_the_run_folder(tmp_path, cache_dir, tiny, capsys):
    wider = saved_model(tmp_path / "wider.keras", tiny.replace(model={"filters": 8}), seed=3)
    run = tmp_path / "run"
    code = main(["train", "--config", "tiny", "--data", str(cache_dir), "--out", str(run), "--init", str(wider)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1, err
    assert (
        f"--init {wider}: not the architecture of this config: model.filters (8 in the model, 4 in the config)" in err
    )
    assert not run.exists()
