"""`cunet evaluate --model/--dedicated` end to end with tiny saved models."""

import csv

import numpy as np
import pytest

from cunet.audio.spectral import input_stft_settings
from cunet.cli import main
from cunet.config import load_config
from cunet.evaluation.methods import dedicated_method, model_method
from cunet.model.files import save_model
from cunet.model.unet import build_model
from cunet.musdb import STEMS, TrackAudio
from cunet.separation.separator import Separator
from musdb_fixtures import make_musdb_root


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A tiny C-U-Net and tiny dedicated U-Nets for vocals and bass, saved as cunet files."""
    folder = tmp_path_factory.mktemp("models")
    config = load_config("tiny")
    cunet = build_model(config)
    paths = {"cunet": save_model(cunet, config, folder / "tiny-cunet.keras")}
    paths["parameters"] = {"cunet": cunet.count_params()}
    for target in ("vocals", "bass"):
        unet_config = config.replace(model={"type": "unet", "target": target, "film": "simple"})
        unet = build_model(unet_config)
        paths[target] = save_model(unet, unet_config, folder / f"unet-{target}.keras")
        paths["parameters"][target] = unet.count_params()
    return paths


def test_model_and_dedicated_end_to_end(models, tmp_path, capsys):
    root = make_musdb_root(tmp_path / "root", "wav", {"test": 1}, seconds=2.0, rate=16000)
    out = tmp_path / "out"
    argv = [
        "evaluate",
        "--musdb-root",
        str(root),
        "--is-wav",
        "--out",
        str(out),
        "--model",
        str(models["cunet"]),
        "--dedicated",
        f"vocals={models['vocals']}",
        "--dedicated",
        f"bass={models['bass']}",
        "--targets",
        "vocals,bass",
        "--baselines",
        "none",
        "--no-progress",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["method"] for r in rows} == {"tiny-cunet", "dedicated-unets"}
    assert len(rows) == 2 * 1 * 2 * 4
    assert all(np.isfinite(float(r["score"])) for r in rows if r["metric"] == "SDR")
    with open(out / "summary.csv", newline="") as f:
        params = {r["method"]: int(r["parameters"]) for r in csv.DictReader(f)}
    counts = models["parameters"]
    assert params == {"tiny-cunet": counts["cunet"], "dedicated-unets": counts["vocals"] + counts["bass"]}
    assert counts["vocals"] < counts["cunet"]
    assert "tiny-cunet" in capsys.readouterr().out
    # re-running with the same models reads everything back
    assert main(argv) == 0
    assert "0 scored now, 2 read back" in capsys.readouterr().out


def test_methods_score_exactly_what_the_separator_returns(models):
    rng = np.random.default_rng(0)
    rate = 11025
    sources = {name: (0.1 * rng.standard_normal((rate // 2, 2))).astype(np.float32) for name in STEMS}
    track = TrackAudio("t", rate, sum(sources.values()), sources)
    method = model_method(models["cunet"], ["vocals", "bass"])
    direct = Separator.load(models["cunet"]).separate(track.mixture, rate, instruments=("vocals", "bass"))
    got = method.separate(track, ["vocals", "bass"])
    for name in ("vocals", "bass"):
        np.testing.assert_array_equal(got[name], direct[name])
    dedicated = dedicated_method({"vocals": models["vocals"], "bass": models["bass"]}, ["vocals", "bass"], "d")
    direct = Separator.load(models["vocals"]).separate(track.mixture, rate, instruments=("vocals",))
    np.testing.assert_array_equal(dedicated.separate(track, ["vocals", "bass"])["vocals"], direct["vocals"])


def test_oracle_masks_on_the_separators_grid(models):
    separator = Separator.load(models["cunet"])
    for rate in (8192, 16000, 22050, 44100, 48000):
        grid = separator.grid(rate * 3, rate)
        assert input_stft_settings(separator.config.audio, rate) == (grid.input_n_fft, grid.input_hop)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--dedicated", "vocals={vocals}"], "no U-Net for bass"),
        (["--dedicated", "vocals={bass}", "--dedicated", "bass={bass}"], "not a U-Net for 'vocals'"),
        (["--dedicated", "vocals={cunet}", "--dedicated", "bass={bass}"], "is a C-U-Net"),
        (["--model", "{vocals}"], "separates vocals, not bass"),
        (["--model", "{cunet}", "--model", "{cunet}"], "share a name"),
    ],
)
def test_mismatched_models_are_refused(models, tmp_path, capsys, extra, message):
    root = make_musdb_root(tmp_path / "root", "wav", {"test": 1}, seconds=1.0, rate=8000)
    extra = [a.format(**{k: str(v) for k, v in models.items()}) for a in extra]
    code = main(
        [
            "evaluate",
            "--musdb-root",
            str(root),
            "--is-wav",
            "--out",
            str(tmp_path / "out"),
            "--targets",
            "vocals,bass",
            "--no-progress",
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


def test_the_shipped_model_is_scored_on_the_runtime_cunet_separate_takes():
    from cunet.separation.runtimes import default_model_path

    rng = np.random.default_rng(1)
    rate = 22050
    sources = {name: (0.1 * rng.standard_normal((rate * 3, 2))).astype(np.float32) for name in STEMS}
    track = TrackAudio("t", rate, sum(sources.values()), sources)
    path = default_model_path()
    auto = model_method(path, ["vocals", "drums"])
    reference = model_method(path, ["vocals", "drums"], runtime="tensorflow")
    assert "litert" in auto.description and "tensorflow" in reference.description
    assert auto.fingerprint == reference.fingerprint + ":litert"  # never mixed in one results folder
    assert auto.parameters == reference.parameters == 3_046_733
    got, expected = auto.separate(track, ["vocals", "drums"]), reference.separate(track, ["vocals", "drums"])
    direct = Separator.load(path).separate(track.mixture, rate, instruments=("vocals", "drums"))
    for name in ("vocals", "drums"):
        np.testing.assert_array_equal(got[name], direct[name])  # what `cunet separate` writes
        np.testing.assert_allclose(got[name], expected[name], atol=1e-4)
    assert auto.recipe().fingerprint == auto.fingerprint  # a --jobs worker builds the same method
