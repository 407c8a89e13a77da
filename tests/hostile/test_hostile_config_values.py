"""Config values that cannot work are one line and exit 2 in `prepare`, `train` and
`info --config` alike, before any work; a YAML config with a Python tag runs nothing."""

import warnings

import pytest
import yaml

from cunet.cli import main
from cunet.config import ConfigError, ConfigWarning, load_config

BAD_VALUES = [
    ({"audio": {"sample_rate": 0}}, "audio.sample_rate: must be at least 1, got 0"),
    ({"audio": {"sample_rate": -8192}}, "audio.sample_rate: must be at least 1"),
    ({"audio": {"hop_length": 0}}, "audio.hop_length: must be at least 1, got 0"),
    ({"audio": {"hop_length": -64}}, "audio.hop_length: must be at least 1"),
    ({"audio": {"hop_length": 512}}, "audio.hop_length: cannot exceed audio.n_fft (256)"),
    ({"audio": {"n_fft": 0}}, "audio.n_fft: must be at least 2"),
    ({"model": {"filters": 0}}, "model.filters: must be at least 1, got 0"),
    ({"patch": {"frames": 0}}, "patch.frames: must be at least 1, got 0"),
    ({"patch": {"freq_bins": 256}}, "patch.freq_bins: cannot exceed audio.n_fft // 2 (128)"),
    ({"model": {"control_units": [8, 0]}}, "model.control_units[1]: must be at least 1, got 0"),
    ({"model": {"dropout_rate": 1.0}}, "model.dropout_rate: must be in [0, 1)"),
    ({"training": {"batch_size": 0}}, "training.batch_size: must be at least 1"),
    ({"training": {"steps_per_epoch": -1}}, "training.steps_per_epoch: must be at least 1"),
    ({"training": {"epochs": 0}}, "training.epochs: must be at least 1"),
    ({"training": {"learning_rate": 0.0}}, "training.learning_rate: must be positive, got 0.0"),
    ({"training": {"learning_rate": float("nan")}}, "training.learning_rate: must be positive, got nan"),
    ({"training": {"reduce_lr_factor": 1.0}}, "training.reduce_lr_factor: must be in (0, 1)"),
    ({"data": {"remix_probability": 1.5}}, "data.remix_probability: must be in [0, 1], got 1.5"),
    ({"data": {"progressive_probability": -0.1}}, "data.progressive_probability: must be in [0, 1]"),
    ({"data": {"gain_db_range": [6.0, -6.0]}}, "data.gain_db_range: needs [low, high] with low <= high"),
    ({"data": {"conditions": []}}, "data.conditions: needs at least one entry"),
]


def tiny_with(tmp_path, change: dict):
    """The tiny config with the sections of `change` updated, as a YAML file."""
    data = load_config("tiny").to_dict()
    data.pop("name")
    for section, values in change.items():
        data[section].update(values)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("change, message", BAD_VALUES)
def test_value_that_cannot_work_is_refused_when_the_config_loads(tmp_path, change, message):
    with pytest.raises(ConfigError) as caught:
        load_config(tiny_with(tmp_path, change))
    assert message in str(caught.value) and str(tiny_with(tmp_path, change)) in str(caught.value)


@pytest.mark.parametrize("change, message", [BAD_VALUES[0], BAD_VALUES[2], BAD_VALUES[6], BAD_VALUES[7]])
def test_prepare_train_and_info_give_the_same_one_line(tmp_path, capsys, cache_dir, change, message):
    path = tiny_with(tmp_path, change)
    commands = {
        "prepare": ["--musdb-root", str(tmp_path), "--is-wav", "--out", str(tmp_path / "cache")],
        "train": ["--data", str(cache_dir), "--out", str(tmp_path / "run")],
        "info": [],
    }
    lines = []
    for command, rest in commands.items():
        assert main([command, "--config", str(path), *rest]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith(f"cunet {command}: error: "), err
        lines.append(err.split(": error: ", 1)[1])
    assert lines[0] == lines[1] == lines[2] and message in lines[0]
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_rate_too_low_for_music_is_a_warning(tmp_path):
    path = tiny_with(tmp_path, {"audio": {"sample_rate": 1}})
    with pytest.warns(ConfigWarning, match="audio.sample_rate 1 Hz is too low for music"):
        config = load_config(path)
    assert config.audio.sample_rate == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_config("tiny")  # 8192 Hz: no word


def test_the_low_rate_warning_is_one_line_on_the_command_line(tmp_path, capsys):
    path = tiny_with(tmp_path, {"audio": {"sample_rate": 1000}})
    assert main(["info", "--config", str(path)]) == 0
    err = capsys.readouterr().err.strip()
    assert err == (
        "cunet info: warning: audio.sample_rate 1000 Hz is too low for music "
        "(below 4000 Hz: nothing above 500 Hz is kept)"
    )


def test_yaml_python_tag_is_refused_and_runs_nothing(tmp_path, capsys):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.yaml"
    path.write_text(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    assert main(["info", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "not valid YAML" in err and str(path) in err and len(err.splitlines()) == 1
    assert not marker.exists()


def test_unknown_loss_is_refused_before_the_run_folder(tmp_path, cache_dir, capsys):
    path = tiny_with(tmp_path, {"training": {"loss": "mean_absolute_eror"}})
    assert main(["train", "--config", str(path), "--data", str(cache_dir), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "cunet train: error: training.loss: 'mean_absolute_eror' is not a Keras loss "
        "(e.g. mean_absolute_error, mean_squared_error, huber)"
    )
    assert not (tmp_path / "run").exists()
