"""`cunet demo`: separates the bundled clip with a model; never fails while no model is embedded."""

import numpy as np
import soundfile as sf

from cunet.cli import main
from cunet.cli.demo import example_path
from cunet.config import load_config
from cunet.model.files import save_model
from cunet.model.unet import build_model


def test_bundled_example_is_a_short_stereo_clip():
    info = sf.info(example_path())
    assert info.samplerate == 44100 and info.channels == 2 and 10 <= info.duration <= 15


def test_demo_without_embedded_model_explains_and_exits_0(tmp_path, monkeypatch, capsys):
    import cunet.separation.runtimes as runtimes

    monkeypatch.setattr(runtimes, "default_model_path", lambda: tmp_path / "cunet-default.keras")
    assert main(["demo", "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "no trained model" in out and "parameters, total" in out
    assert not (tmp_path / "out").exists()


def test_demo_writes_separation_and_spectrogram(tmp_path, capsys):
    config = load_config("tiny")
    model = save_model(build_model(config, compile=False), config, tmp_path / "tiny.keras")
    clip = tmp_path / "clip.wav"
    x, rate = sf.read(example_path(), frames=3 * 44100, dtype="float32")
    sf.write(clip, x, rate, subtype="FLOAT")
    out_dir = tmp_path / "out"
    assert main(["demo", "--model", str(model), "--input", str(clip), "--out-dir", str(out_dir)]) == 0
    folder = out_dir / "clip"
    vocals, r1 = sf.read(folder / "vocals.wav", dtype="float32")
    rest, r2 = sf.read(folder / "residual.wav", dtype="float32")  # one name for the rest of the mix
    assert r1 == r2 == rate and vocals.shape == rest.shape == x.shape
    np.testing.assert_allclose(vocals + rest, x, atol=1e-5)
    assert (folder / "spectrogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str(folder / "spectrogram.png") in capsys.readouterr().out


def test_demo_with_the_embedded_model_runs_litert_and_says_what_the_model_is(tmp_path, capsys):
    clip = tmp_path / "clip.wav"
    x, rate = sf.read(example_path(), frames=2 * 44100, dtype="float32")
    sf.write(clip, x, rate, subtype="FLOAT")
    assert main(["demo", "--input", str(clip), "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "runtime litert" in out and "synthetic" in out and "cunet train" in out
    assert sorted(p.name for p in (tmp_path / "out" / "clip").iterdir()) == [
        "mixture.wav",
        "residual.wav",
        "spectrogram.png",
        "vocals.wav",
    ]
