"""Output as users ask for it: mp3 at a bitrate, wav of 16/24/32 bits, a file-name template."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from cunet.cli import main as cli_main
from cunet.config import load_config
from cunet.model.files import save_model
from cunet.model.unet import build_model

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="mp3 output needs ffmpeg")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    config = load_config("tiny")
    return save_model(build_model(config, compile=False), config, tmp_path_factory.mktemp("model") / "tiny.keras")


def _song(path, rate=44100, seconds=2.0, channels=2):
    t = np.arange(int(rate * seconds)) / rate
    tones = [0.3 * np.sin(2 * np.pi * f * t) for f in (220.0, 330.0)][:channels]
    noise = 0.05 * np.random.default_rng(0).standard_normal((len(t), channels))
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (np.stack(tones, 1) + noise).astype(np.float32), rate, subtype="PCM_16")
    return path


def _separate(model_file, src, out, *options):
    return cli_main(["separate", str(src), "--model", str(model_file), "--out-dir", str(out), *options])


def _snr(reference, estimate):
    return 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))


@needs_ffmpeg
def test_mp3_decodes_to_the_input_length_close_to_the_wav(tmp_path, model_file):
    src = _song(tmp_path / "song.wav")
    assert _separate(model_file, src, tmp_path / "wav", "-i", "vocals+drums", "--residual") == 0
    seconds = sf.info(src).frames / 44100
    snrs = {}
    for bitrate in ("320k", "128k"):
        assert (
            _separate(
                model_file,
                src,
                tmp_path / bitrate,
                "-i",
                "vocals+drums",
                "--residual",
                "--format",
                "mp3",
                "--bitrate",
                bitrate,
            )
            == 0
        )
        for stem in ("vocals+drums", "residual"):
            wav, _ = sf.read(tmp_path / "wav" / "song" / f"{stem}.wav", dtype="float32")
            mp3_path = tmp_path / bitrate / "song" / f"{stem}.mp3"
            assert sf.info(mp3_path).format == "MP3"
            mp3, rate = sf.read(mp3_path, dtype="float32")
            assert rate == 44100 and mp3.shape[1] == 2
            assert abs(len(mp3) - len(wav)) <= 1152  # LAME's gapless header: the exact length here
            snrs[bitrate, stem] = _snr(wav[: len(mp3)], mp3[: len(wav)])
            kbps = mp3_path.stat().st_size * 8 / seconds / 1000
            assert 0.85 < kbps / int(bitrate[:-1]) < 1.15, kbps
    assert all(snr > 12 for snr in snrs.values()), snrs
    assert snrs["320k", "residual"] > snrs["128k", "residual"], snrs


@needs_ffmpeg
def test_mp3_of_a_mono_22khz_input(tmp_path, model_file):
    src = _song(tmp_path / "mono.flac", rate=22050, channels=1)
    assert _separate(model_file, src, tmp_path / "o", "-i", "bass", "--format", "mp3") == 0
    info = sf.info(tmp_path / "o" / "mono" / "bass.mp3")
    assert (info.samplerate, info.channels) == (22050, 1) and abs(info.frames - sf.info(src).frames) <= 1152


@pytest.mark.parametrize("bits, subtype, step", [(16, "PCM_16", 2**-15), (24, "PCM_24", 2**-23), (32, "FLOAT", 0)])
def test_wav_bits(tmp_path, model_file, bits, subtype, step):
    src = _song(tmp_path / "s.wav", seconds=0.5)
    assert _separate(model_file, src, tmp_path / "float", "-i", "other") == 0
    assert _separate(model_file, src, tmp_path / "o", "-i", "other", "--wav-bits", str(bits)) == 0
    assert sf.info(tmp_path / "o" / "s" / "other.wav").subtype == subtype
    y, _ = sf.read(tmp_path / "o" / "s" / "other.wav", dtype="float64")
    reference, _ = sf.read(tmp_path / "float" / "s" / "other.wav", dtype="float64")
    assert np.max(np.abs(y - np.clip(reference, -1, 1))) <= step + 1e-9


def test_filename_template_places_stems(tmp_path, model_file):
    a, b = _song(tmp_path / "in" / "a.wav", seconds=0.3), _song(tmp_path / "in" / "b.flac", seconds=0.3)
    assert (
        _separate(
            model_file,
            tmp_path / "in",
            tmp_path / "o",
            "-i",
            "vocals",
            "--residual",
            "--filename",
            "{stem}/{track}.{trackext}.{ext}",
        )
        == 0
    )
    assert sorted(str(p.relative_to(tmp_path / "o")) for p in (tmp_path / "o").rglob("*.wav")) == [
        "residual/a.wav.wav",
        "residual/b.flac.wav",
        "vocals/a.wav.wav",
        "vocals/b.flac.wav",
    ]
    assert sf.info(tmp_path / "o" / "vocals" / "b.flac.wav").frames == sf.info(b).frames
    assert sf.info(tmp_path / "o" / "residual" / "a.wav.wav").frames == sf.info(a).frames


def test_filename_template_collisions_are_refused_before_writing(tmp_path, model_file, capsys):
    _song(tmp_path / "in" / "a.wav", seconds=0.3)
    _song(tmp_path / "in" / "b.wav", seconds=0.3)
    assert _separate(model_file, tmp_path / "in", tmp_path / "o", "-i", "vocals", "--filename", "{stem}.{ext}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"two outputs would be the same file {tmp_path / 'o' / 'vocals.wav'}" in err[0], err
    assert not (tmp_path / "o").exists()
