"""`cunet inspect`: FiLM γ/β per instrument condition, table and plots."""

import csv

import keras
import numpy as np
import pytest

from cunet.cli import main
from cunet.config import load_config
from cunet.model.files import save_model
from cunet.model.film_analysis import film_parameters
from cunet.model.unet import build_model, film_sizes


@pytest.fixture(scope="module")
def tiny_cunet(tmp_path_factory):
    keras.utils.set_random_seed(0)
    config = load_config("tiny")
    model = build_model(config)
    path = save_model(model, config, tmp_path_factory.mktemp("inspect") / "tiny.keras")
    return path, model, config


def test_table_has_every_parameter_and_instruments_differ(tiny_cunet, tmp_path, capsys):
    path, model, config = tiny_cunet
    out = tmp_path / "film"
    assert main(["inspect", "--model", str(path), "--out", str(out)]) == 0, capsys.readouterr().err
    with open(out / "film.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["instrument", "layer", "channel", "gamma", "beta"]
    sizes = film_sizes(config)  # complex FiLM: one γ, β per channel (4, 8, 16)
    assert len(rows) == len(config.instruments) * sum(sizes)
    keys = {(r["instrument"], int(r["layer"]), int(r["channel"])) for r in rows}
    assert keys == {(name, layer, c) for name in config.instruments for layer, n in enumerate(sizes) for c in range(n)}
    values = np.array([[float(r["gamma"]), float(r["beta"])] for r in rows])
    assert np.all(np.isfinite(values))
    gamma = {
        name: np.array([float(r["gamma"]) for r in rows if r["instrument"] == name]) for name in config.instruments
    }
    for i, a in enumerate(config.instruments):
        for b in config.instruments[i + 1 :]:
            assert not np.allclose(gamma[a], gamma[b]), (a, b)
    for name in ("film_gamma.png", "film_beta.png", "film_gamma_histogram.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "mean gamma" in printed and "vocals" in printed


def test_values_are_the_control_networks_inference_output(tiny_cunet):
    _, model, config = tiny_cunet
    params = film_parameters(model, config)
    vocals = np.zeros((1, len(config.instruments)), np.float32)
    vocals[0, config.instruments.index("vocals")] = 1
    gammas, betas = model.control_network(vocals, training=False)
    for layer in range(config.model.n_layers):
        np.testing.assert_allclose(params.gammas["vocals"][layer], np.asarray(gammas[layer])[0], rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(params.betas["vocals"][layer], np.asarray(betas[layer])[0], rtol=1e-5, atol=1e-7)


def test_simple_film_has_one_gamma_per_layer(tmp_path):
    config = load_config("tiny").replace(model={"film": "simple"})
    params = film_parameters(build_model(config, compile=False), config)
    assert [len(g) for g in params.gammas["bass"]] == [1] * config.model.n_layers
    assert len(list(params.rows())) == len(config.instruments) * config.model.n_layers


def test_dedicated_unet_is_refused(tmp_path, capsys):
    config = load_config("tiny").replace(model={"type": "unet", "target": "vocals", "film": "simple"})
    path = save_model(build_model(config), config, tmp_path / "unet.keras")
    code = main(["inspect", "--model", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "dedicated U-Net for 'vocals'" in err and "no control network" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_not_a_model_is_refused(tmp_path, capsys):
    bad = tmp_path / "x.keras"
    bad.write_text("hello")
    assert main(["inspect", "--model", str(bad), "--out", str(tmp_path / "out")]) == 2
    assert "cunet inspect: error:" in capsys.readouterr().err
