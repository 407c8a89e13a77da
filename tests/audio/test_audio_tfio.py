"""The optional tensorflow-io audio backend: results must not depend on the backend.

Where tensorflow-io is missing or its ops do not load (the main environment, TensorFlow
newer than 2.17.1), the fallback is tested; the comparisons run where it works: `make test`
runs this file again in `.venv-tfio` (`pip install -e '.[tfio]'`) when CI=true or
CUNET_TEST_TFIO=1.
"""

import subprocess

import numpy as np
import pytest
import soundfile as sf

from cunet.audio.reading import open_audio, read_audio, resolve_backend
from cunet.audio.tfio import tfio_status
from cunet.cli import main
from cunet.config import load_config
from cunet.model.files import save_model
from cunet.model.unet import build_model
from cunet.training.cache import open_cache, prepare_cache
from musdb_fixtures import make_musdb_root

TFIO_OK, TFIO_REASON = tfio_status()
needs_tfio = pytest.mark.skipif(not TFIO_OK, reason=f"tfio backend unusable here: {TFIO_REASON}")


def song(path, rate=44100, seconds=2.0, channels=2):
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    x = np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], 1)
    x += 0.05 * rng.standard_normal(x.shape)
    wav = path / "song.wav"
    sf.write(wav, x.astype("float32"), rate, subtype="PCM_16")
    sf.write(path / "song.flac", x.astype("float32"), rate, subtype="PCM_16")
    for suffix, codec in ((".mp3", ["-q:a", "2"]), (".ogg", ["-c:a", "libvorbis", "-q:a", "6"])):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), *codec, str(path / f"song{suffix}")], check=True)
    return path


def test_auto_is_soundfile_and_unknown_backend_is_an_error():
    assert resolve_backend("auto") == "soundfile"
    assert resolve_backend("soundfile") == "soundfile"
    with pytest.raises(Exception, match="unknown audio backend 'sox'"):
        resolve_backend("sox")


@pytest.mark.skipif(TFIO_OK, reason="tensorflow-io works here: the fallback is not taken")
def test_unusable_tfio_falls_back_with_one_line_notice(tmp_path, capsys):
    config = load_config("tiny")
    model = save_model(build_model(config), config, tmp_path / "tiny.keras")
    song(tmp_path)
    argv = [
        "separate",
        str(tmp_path / "song.wav"),
        "--model",
        str(model),
        "-i",
        "vocals",
        "--out-dir",
        str(tmp_path / "out"),
        "--audio-backend",
        "tfio",
    ]
    assert main(argv) == 0
    notices = [line for line in capsys.readouterr().err.splitlines() if "notice" in line]
    assert len(notices) == 1 and "audio backend tfio unavailable" in notices[0]
    out, rate = sf.read(tmp_path / "out" / "song" / "vocals.wav")
    assert rate == 44100 and out.shape == (88200, 2)


@needs_tfio
@pytest.mark.parametrize("suffix, tolerance", [(".wav", 0.0), (".flac", 0.0), (".mp3", 1e-3), (".ogg", 1e-3)])
def test_both_backends_decode_the_same_samples(tmp_path, suffix, tolerance):
    song(tmp_path)
    reference, rate = read_audio(tmp_path / f"song{suffix}", "soundfile")
    decoded, tfio_rate = read_audio(tmp_path / f"song{suffix}", "tfio")
    with open_audio(tmp_path / f"song{suffix}", "tfio") as source:
        assert type(source).__name__ == "TfioSource"
    assert tfio_rate == rate and decoded.shape[1] == reference.shape[1]
    n = min(len(decoded), len(reference))
    assert abs(len(decoded) - len(reference)) <= (0 if tolerance == 0 else 2048)
    np.testing.assert_allclose(decoded[:n], reference[:n], atol=tolerance)


@needs_tfio
def test_prepare_hq_cache_is_the_same_with_both_backends(tmp_path):
    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 1}, seconds=2.0)
    config = load_config("tiny")
    a = prepare_cache(root, config, tmp_path / "sf", is_wav=True, progress=False)
    b = prepare_cache(root, config, tmp_path / "tfio", is_wav=True, progress=False, audio_backend="tfio")
    (track_a,), (track_b,) = a.tracks, b.tracks
    np.testing.assert_array_equal(a.read_track(track_a), b.read_track(track_b))
    assert open_cache(tmp_path / "tfio", config).tracks[0].length == track_a.length


@needs_tfio
def test_separation_is_the_same_with_both_backends(tmp_path):
    config = load_config("tiny")
    model = save_model(build_model(config), config, tmp_path / "tiny.keras")
    song(tmp_path)
    outputs = {}
    for backend in ("soundfile", "tfio"):
        argv = [
            "separate",
            str(tmp_path / "song.flac"),
            "--model",
            str(model),
            "-i",
            "vocals",
            "--out-dir",
            str(tmp_path / backend),
            "--audio-backend",
            backend,
        ]
        assert main(argv) == 0
        outputs[backend] = sf.read(tmp_path / backend / "song" / "vocals.wav")[0]
    np.testing.assert_array_equal(outputs["soundfile"], outputs["tfio"])
