"""`cunet train`: a tiny config learns from a generated cache; the run directory describes
itself; bad input is one line and exit code 2."""

import csv
import json

import numpy as np
import pytest

from cunet.cli import main
from cunet.config import load_config


def initial_validation_loss(config, cache_dir):
    """The validation loss of the untrained model `train` starts from (same seed)."""
    import keras

    from cunet.model.unet import build_model
    from cunet.training.data import validation_dataset
    from cunet.training.step import waveform_model

    keras.utils.set_random_seed(config.training.seed)
    model = waveform_model(build_model(config, compile=False), config)
    data = validation_dataset(config, cache_dir)
    if config.training.validation_steps:
        data = data.take(config.training.validation_steps)
    return float(model.evaluate(data, verbose=0))


def test_tiny_config_learns_and_run_dir_describes_itself(tmp_path, cache_dir, tiny, capsys):
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
        "16",
        "--epochs",
        "3",
        "--learning-rate",
        "0.003",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "3 epochs" in out

    config = tiny.replace(training={"steps_per_epoch": 16, "epochs": 3, "learning_rate": 0.003})
    with (run / "training.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    val = [float(r["val_loss"]) for r in rows]
    assert val[-1] < val[0]
    assert val[-1] < 0.95 * initial_validation_loss(config, cache_dir)

    # the run directory describes itself
    assert load_config(run / "config.yaml") == config
    info = json.loads((run / "run.json").read_text())
    import cunet

    assert info["cunet_version"] == cunet.__version__
    assert info["starts"][0]["command"][:2] == ["cunet", "train"]
    assert "--steps-per-epoch" in info["starts"][0]["command"]
    assert any((run / "logs").rglob("events.out.tfevents*"))

    from cunet.model.files import load_model

    best, best_config = load_model(run / "best.keras")
    last, _ = load_model(run / "last.keras")
    assert best_config.model == tiny.model and best_config.training == config.training
    # best.keras is the epoch of the lowest validation loss: re-evaluating it gives that loss
    from cunet.training.data import validation_dataset
    from cunet.training.step import waveform_model

    data = validation_dataset(best_config, cache_dir).take(best_config.training.validation_steps)
    loss = waveform_model(best, best_config).evaluate(data, verbose=0)
    assert float(loss) == pytest.approx(min(val), rel=1e-4)
    if int(np.argmin(val)) == len(val) - 1:
        for a, b in zip(best.get_weights(), last.get_weights()):
            np.testing.assert_array_equal(a, b)

    # checkpoints hold the model alone (the optimizer state lives in resume/): ready to ship
    import io
    import zipfile

    import h5py

    with zipfile.ZipFile(run / "best.keras") as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")))
        assert "layers" in weights and "optimizer" not in weights

    assert main(["info", "--model", str(run / "best.keras")]) == 0
    assert "parameters, total" in capsys.readouterr().out

    # the same command on a finished run does nothing more
    assert main(argv) == 0
    with (run / "training.csv").open() as f:
        assert len(list(csv.DictReader(f))) == 3


def test_dedicated_unet_trains_from_the_same_cache(tmp_path, cache_dir, tiny):
    path = tmp_path / "unet.yaml"
    data = tiny.to_dict()
    data.pop("name")
    data["model"].update(type="unet", target="vocals")
    import yaml

    path.write_text(yaml.safe_dump(data))
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--config",
                str(path),
                "--data",
                str(cache_dir),
                "--out",
                str(run),
                "--steps-per-epoch",
                "2",
                "--epochs",
                "1",
                "--quiet",
                "--no-tensorboard",
            ]
        )
        == 0
    )
    from cunet.model.files import load_model

    model, config = load_model(run / "last.keras")
    assert config.model.type == "unet" and config.model.target == "vocals"
    assert [t.name.split(":")[0] for t in model.inputs] == ["magnitude"]


def run_bad(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def test_missing_cache(tmp_path, capsys):
    code, err = run_bad(
        ["train", "--config", "tiny", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "run")], capsys
    )
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("cunet train: error:") and "cunet prepare" in err


def test_cache_of_another_config(tmp_path, cache_dir, capsys):
    code, err = run_bad(
        ["train", "--config", "cunet-default-small", "--data", str(cache_dir), "--out", str(tmp_path / "run")], capsys
    )
    assert code == 2 and len(err.splitlines()) == 1
    assert "config hash" in err
    assert not (tmp_path / "run").exists()


def test_unknown_config_key(tmp_path, cache_dir, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  batch_sise: 4\n")
    code, err = run_bad(
        ["train", "--config", str(path), "--data", str(cache_dir), "--out", str(tmp_path / "run")], capsys
    )
    assert code == 2 and len(err.splitlines()) == 1
    assert "training.batch_sise" in err


def test_unwritable_run_dir(tmp_path, cache_dir, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = run_bad(["train", "--config", "tiny", "--data", str(cache_dir), "--out", str(blocker / "run")], capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "cannot write the run directory" in err
    assert blocker.read_text() == "not a folder"


def test_run_dir_of_another_config_is_refused(tmp_path, cache_dir, capsys):
    run = tmp_path / "run"
    run.mkdir()
    other = load_config("tiny").replace(model={"filters": 8})
    from cunet.config import save_config

    save_config(other, run / "config.yaml")
    (run / "resume").mkdir()
    (run / "resume" / "state.json").write_text("{}")  # a finished epoch: not to be mixed with another config
    code, err = run_bad(["train", "--config", "tiny", "--data", str(cache_dir), "--out", str(run)], capsys)
    assert code == 2 and "different config" in err


@pytest.mark.parametrize("option", [["--epochs", "0"], ["--batch-size", "-1"], ["--learning-rate", "0"]])
def test_bad_numbers(tmp_path, cache_dir, capsys, option):
    code, err = run_bad(
        ["train", "--config", "tiny", "--data", str(cache_dir), "--out", str(tmp_path / "run"), *option], capsys
    )
    assert code == 2 and len(err.splitlines()) == 1 and option[0] in err


def test_a_musdb_root_is_cached_into_the_run_dir_then_trained(tmp_path, cache_dir, capsys):
    from cunet.training.cache import open_cache
    from musdb_fixtures import make_musdb_root

    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 3})
    run = tmp_path / "run"
    argv = ["train", "--config", "tiny", "--musdb-root", str(root), "--is-wav", "--out", str(run), "--quiet"]
    assert main([*argv, "--steps-per-epoch", "2", "--epochs", "1"]) == 0
    tiny = load_config("tiny")
    cached, prepared = open_cache(run / "cache", tiny), open_cache(cache_dir, tiny)
    assert [(t.name, t.split, t.length) for t in cached.tracks] == [
        (t.name, t.split, t.length) for t in prepared.tracks
    ]
    np.testing.assert_array_equal(cached.read_track(cached.tracks[0]), prepared.read_track(prepared.tracks[0]))
    assert (run / "best.keras").is_file()


def test_a_wav_root_without_is_wav_names_the_flag(tmp_path, capsys):
    from musdb_fixtures import make_musdb_root

    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 1})
    code, err = run_bad(
        ["train", "--config", "tiny", "--musdb-root", str(root), "--out", str(tmp_path / "run")], capsys
    )
    assert code == 2 and len(err.splitlines()) == 1 and "--is-wav" in err


def test_data_and_musdb_root_exclude_each_other(tmp_path, cache_dir, capsys):
    sources = ["--data", str(cache_dir), "--musdb-root", str(tmp_path)]
    argv = ["train", "--config", "tiny", *sources, "--out", str(tmp_path / "r")]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "not allowed with" in capsys.readouterr().err
