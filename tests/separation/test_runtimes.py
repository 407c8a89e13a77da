"""The LiteRT and TensorFlow runtimes give the same separations; `auto` picks LiteRT only for a
`.tflite` exported from that very model; the LiteRT path of `cunet separate` never imports
TensorFlow; defaults (every instrument, `separated/`); training writes `best.tflite`."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from cunet.audio.resample import resample
from cunet.cli import main
from cunet.cli.demo import example_path
from cunet.config import load_config
from cunet.errors import CunetError
from cunet.model.export import export_tflite
from cunet.model.files import load_model, save_model
from cunet.separation.reference import separate_reference
from cunet.separation.runtimes import default_model_path, load_masks, resolve_runtime
from cunet.separation.separator import Separator
from model_fixtures import TINY_VARIANTS, randomize

# the rates and channel counts of the shape and bad-input tests (test_separate*.py)
RATES_CHANNELS = [(8000, 1), (22050, 2), (44100, 2), (48000, 1), (96000, 2), (44100, 6)]


@pytest.fixture(scope="module", params=sorted(TINY_VARIANTS))
def model_pair(request, tmp_path_factory):
    """A tiny randomized model saved as `.keras` with its `.tflite` exported beside it."""
    from cunet.model.unet import build_model

    config = load_config("tiny").replace(model=TINY_VARIANTS[request.param])
    model = build_model(config, compile=False)
    randomize(model, seed=len(request.param))
    source = save_model(model, config, tmp_path_factory.mktemp(request.param) / "model.keras")
    export_tflite(model, config, source.with_suffix(".tflite"), source=source)
    return source


@pytest.fixture(scope="module")
def song():
    """A real song excerpt: 3 s of the bundled example (44.1 kHz stereo)."""
    x, rate = sf.read(example_path(), frames=3 * 44100, dtype="float32")
    return x, rate


def _at(song, rate, channels):
    x, source_rate = song
    y = resample(x, source_rate, rate) if rate != source_rate else x
    return np.ascontiguousarray(np.tile(y, (1, 3))[:, :channels]) if channels > 2 else y[:, :channels].copy()


@pytest.mark.parametrize("rate,channels", RATES_CHANNELS)
def test_litert_and_tensorflow_separate_the_same_audio(model_pair, song, rate, channels):
    x = _at(song, rate, channels)
    runs = {}
    for runtime in ("litert", "tensorflow"):
        separator = Separator.load(model_pair, runtime=runtime)
        assert separator.runtime == runtime
        runs[runtime] = separator.separate(x, rate, None, residual=True)
    assert sorted(runs["litert"]) == sorted(separator.instruments + ["residual"])
    for name, y in runs["tensorflow"].items():
        assert y.shape == x.shape
        np.testing.assert_allclose(runs["litert"][name], y, atol=1e-4, rtol=0, err_msg=name)


def test_both_runtimes_equal_the_reference_chain(model_pair, song):
    x = _at(song, 44100, 2)
    for runtime in ("litert", "tensorflow"):
        masks, config = load_masks(model_pair, runtime)
        separator = Separator(masks, config)
        names = separator.instruments[:2]
        expected = separate_reference(masks, config, x, 44100, names)
        out = separator.separate(x, 44100, names)
        for name in names:
            np.testing.assert_allclose(out[name], expected[name], atol=1e-5, rtol=0, err_msg=f"{runtime} {name}")


def test_shipped_model_litert_equals_tensorflow_on_a_real_song(song):
    x = _at(song, 44100, 2)
    litert = Separator.load(None)
    assert litert.runtime == "litert"
    tensorflow = Separator.load(None, runtime="tensorflow").separate(x, 44100, None, residual=True, wiener=True)
    for name, y in litert.separate(x, 44100, None, residual=True, wiener=True).items():
        np.testing.assert_allclose(y, tensorflow[name], atol=1e-4, rtol=0, err_msg=name)


def test_auto_takes_litert_only_for_the_tflite_of_that_very_model(tmp_path):
    config = load_config("tiny")
    from cunet.model.unet import build_model

    model = build_model(config, compile=False)
    source = save_model(model, config, tmp_path / "a" / "model.keras")
    assert resolve_runtime(source) == "tensorflow"  # no .tflite yet
    export_tflite(model, config, source.with_suffix(".tflite"), source=source)
    assert resolve_runtime(source) == "litert"
    assert resolve_runtime(source.with_suffix(".tflite"), "auto") == "litert"
    with pytest.raises(CunetError, match="runs with --runtime litert"):
        resolve_runtime(source.with_suffix(".tflite"), "tensorflow")
    save_model(build_model(config, compile=False), config, source)  # retrained: the .tflite is stale
    assert resolve_runtime(source) == "tensorflow"
    with pytest.raises(CunetError, match="was not exported from model.keras"):
        load_masks(source, "litert")
    source.with_suffix(".tflite").unlink()
    with pytest.raises(CunetError, match="cunet export"):
        load_masks(source, "litert")


@pytest.mark.parametrize("damage", ["weights", "config"])
def test_damaged_or_mismatched_tflite_refused_with_one_line(damage, tmp_path, capsys):
    model, config = load_model(default_model_path())
    folder = tmp_path / "m"
    source = save_model(model, config, folder / "model.keras")
    tflite = export_tflite(model, config, folder / "model.tflite", source=source)
    if damage == "weights":
        data = bytearray(tflite.read_bytes())
        data[len(data) // 2] ^= 0xFF
        tflite.write_bytes(bytes(data))
    else:  # exported from a model of another config: --model X.tflite with a .keras of other settings
        other = config.replace(patch={"frames": 64})
        save_model(model, other, source)
    song = tmp_path / "song.wav"
    sf.write(song, np.zeros((4410, 2), np.float32), 44100)
    code = main(["separate", str(song), "--model", str(source), "--runtime", "litert", "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("cunet separate: error:"), err
    assert ("damaged" in err[0]) if damage == "weights" else ("not exported from" in err[0] or "match" in err[0])
    assert not (tmp_path / "o").exists()


def test_cli_without_options_writes_every_stem_to_separated_without_tensorflow(tmp_path):
    song = tmp_path / "song.wav"
    x, rate = sf.read(example_path(), frames=2 * 44100, dtype="float32")
    sf.write(song, x, rate)
    code = (
        "import sys\nfrom cunet.cli import main\n"
        "rc = main(['separate', 'song.wav'])\n"
        "print(rc, sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 []"
    assert "litert" in result.stdout
    assert sorted(p.name for p in (tmp_path / "separated" / "song").iterdir()) == [
        "bass.wav",
        "drums.wav",
        "other.wav",
        "vocals.wav",
    ]
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "synthetic" in err[0] and "cunet train" in err[0], err  # what the model is
    y, r = sf.read(tmp_path / "separated" / "song" / "vocals.wav")
    assert r == rate and y.shape == x.shape


def test_help_and_usage_error_list_the_embedded_instruments(capsys):
    from cunet.cli.separate import EMBEDDED_INSTRUMENTS
    from cunet.model.files import read_model_config

    assert list(EMBEDDED_INSTRUMENTS) == read_model_config(default_model_path()).instruments
    with pytest.raises(SystemExit):
        main(["separate"])
    assert "bass, drums, other, vocals" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["separate", "--help"])
    assert "bass, drums, other, vocals" in capsys.readouterr().out


def test_dedicated_unet_default_instruments_are_its_target(tmp_path):
    config = load_config("tiny").replace(model=TINY_VARIANTS["unet"])
    from cunet.model.unet import build_model

    path = save_model(build_model(config, compile=False), config, tmp_path / "u.keras")
    out = Separator.load(path).separate(np.zeros((4000, 1), np.float32), 8000)
    assert sorted(out) == ["vocals"]


def test_load_model_from_the_top_level_package():
    import cunet

    model, config = cunet.load_model(default_model_path())
    assert config.name == "cunet-default-small" and type(model).__name__ == "UNet"


def test_training_writes_best_tflite_and_survives_an_export_failure(tmp_path, cache_dir, monkeypatch, capsys):
    from cunet.separation.litert import paired_tflite

    argv = [
        "train",
        "--config",
        "tiny",
        "--data",
        str(cache_dir),
        "--steps-per-epoch",
        "2",
        "--epochs",
        "1",
        "--quiet",
        "--no-tensorboard",
    ]
    run = tmp_path / "run"
    assert main([*argv, "--out", str(run)]) == 0
    assert paired_tflite(run / "best.keras") == run / "best.tflite"
    assert resolve_runtime(run / "best.keras") == "litert"

    def broken(best):
        return [
            sys.executable,
            "-c",
            "import sys; print('first line', file=sys.stderr); sys.exit('converter exploded')",
        ]

    monkeypatch.setattr("cunet.training.callbacks.export_command", broken)
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "run2")]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "best.tflite" in line]
    assert len(err) == 1 and "warning" in err[0] and "converter exploded" in err[0]
    assert (tmp_path / "run2" / "best.keras").is_file() and not (tmp_path / "run2" / "best.tflite").exists()
