import warnings
import zipfile
from pathlib import Path

import pytest
import yaml

from cunet.config import (
    Config,
    ConfigError,
    available_configs,
    config_from_dict,
    load_config,
    save_config,
)

OLD_MODEL = Path(__file__).resolve().parents[1] / "data" / "plain_functional_model.keras"
PAPER_CONFIGS = [
    "unet-dedicated",
    "cunet-simple-dense",
    "cunet-complex-dense",
    "cunet-simple-cnn",
    "cunet-complex-cnn",
]


def test_named_configs_are_available():
    assert set(PAPER_CONFIGS + ["tiny"]) <= set(available_configs())


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_paper_settings(name):
    config = load_config(name)
    assert isinstance(config, Config)
    assert config.name == name
    assert (config.audio.sample_rate, config.audio.n_fft, config.audio.hop_length) == (8192, 1024, 256)
    assert (config.patch.freq_bins, config.patch.frames) == (512, 128)
    assert config.instruments == ["bass", "drums", "other", "vocals"]
    assert config.training.batch_size == 64
    assert config.training.learning_rate == pytest.approx(1e-3)
    assert config.training.adam_beta_1 == pytest.approx(0.5)


def test_default_is_simple_dense_cunet():
    config = load_config()
    assert config.conditioned
    assert (config.model.film, config.model.control) == ("simple", "dense")


def test_dedicated_config_names_its_target():
    config = load_config("unet-dedicated")
    assert not config.conditioned
    assert config.model.target == "vocals"


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("model:\n  film_typ: simple\n")
    with pytest.raises(ConfigError, match=r"model\.film_typ"):
        load_config(path)


def test_wrong_type_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("training:\n  batch_size: sixty-four\n")
    with pytest.raises(ConfigError, match=r"training\.batch_size.*expected int"):
        load_config(path)


def test_bool_is_not_an_int():
    with pytest.raises(ConfigError, match=r"model\.filters"):
        config_from_dict({"model": {"filters": True}})


def test_invalid_choice_and_target():
    with pytest.raises(ConfigError, match=r"model\.film"):
        config_from_dict({"model": {"film": "medium"}})
    with pytest.raises(ConfigError, match=r"model\.target"):
        config_from_dict({"model": {"type": "unet", "target": "piano"}})


def test_unknown_name_lists_available():
    with pytest.raises(ConfigError, match="cunet-simple-dense"):
        load_config("no-such-config")


def test_malformed_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


def test_save_and_reload_round_trip(tmp_path):
    config = load_config("cunet-complex-cnn").replace(training={"epochs": 3})
    save_config(config, tmp_path / "resolved.yaml")
    again = load_config(tmp_path / "resolved.yaml")
    assert again == config
    assert again.training.epochs == 3
    assert not list(tmp_path.glob(".resolved.yaml.*"))


def test_deprecated_shuffle_buffer_loads_with_a_warning_and_is_dropped(tmp_path):
    # Models and configs written while data.shuffle_buffer existed hold it (the embedded model
    # shipped until 2026-12, kept in tests/data).
    with zipfile.ZipFile(OLD_MODEL) as archive:
        embedded = yaml.safe_load(archive.read("cunet-config.yaml"))
    assert "shuffle_buffer" in embedded["data"]
    (tmp_path / "old.yaml").write_text(yaml.safe_dump(embedded))
    with pytest.warns(DeprecationWarning, match=r"'data.shuffle_buffer' is deprecated and ignored"):
        old = load_config(tmp_path / "old.yaml")
    assert sorted(old.instruments) == ["bass", "drums", "other", "vocals"]
    assert "shuffle_buffer" not in old.to_dict()["data"]
    save_config(old, tmp_path / "resolved.yaml")
    assert "shuffle_buffer" not in (tmp_path / "resolved.yaml").read_text()
    with pytest.warns(DeprecationWarning, match="shuffle_buffer"):
        assert config_from_dict(embedded).to_dict()["data"] == old.to_dict()["data"]

    data = load_config("tiny").to_dict()
    data["data"]["shuffle_buffer"] = 16
    with pytest.warns(DeprecationWarning, match="shuffle_buffer"):
        assert config_from_dict(data) == load_config("tiny")


def test_no_packaged_config_holds_a_deprecated_key():
    for name in available_configs():
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            load_config(name)
