"""cunet.audio: reading any format, atomic writing, resampling, bad files."""

import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from cunet.audio.formats import AudioError, input_name
from cunet.audio.reading import ArraySource, check_audio_array, read_audio
from cunet.audio.resample import resample
from cunet.audio.writing import write_audio

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


def _sine(freq, rate, seconds=1.0, channels=2):
    t = np.arange(int(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([x * (c + 1) / channels for c in range(channels)], axis=1)


@pytest.mark.parametrize("src,dst", [(44100, 8192), (8000, 8192), (96000, 48000)])
def test_resample_keeps_a_sine_and_the_duration(src, dst):
    x = _sine(440.0, src)
    y = resample(x, src, dst)
    assert y.dtype == np.float32 and y.shape[1] == 2
    assert abs(len(y) - len(x) * dst / src) <= 1
    reference = _sine(440.0, dst)[: len(y)]
    inner = slice(dst // 10, len(y) - dst // 10)
    assert np.max(np.abs(y[inner] - reference[inner])) < 1e-3
    assert resample(x[:, 0], src, dst).shape == (len(y),)


@pytest.mark.parametrize("fmt,tol", [("wav", 0.0), ("flac", 1e-6)])
def test_write_then_read_round_trip(tmp_path, fmt, tol):
    x = (np.random.default_rng(0).standard_normal((1000, 3)) * 0.2).astype(np.float32)
    path = write_audio(tmp_path / f"x.{fmt}", x, 22050)
    y, rate = read_audio(path)
    assert rate == 22050 and y.shape == x.shape and y.dtype == np.float32
    assert np.max(np.abs(y - x)) <= tol
    assert [p.name for p in tmp_path.iterdir()] == [f"x.{fmt}"]  # no temporary left behind


def test_a_transposed_view_is_written_channel_by_channel(tmp_path):
    planar = (np.random.default_rng(1).standard_normal((3, 5000)) * 0.2).astype(np.float32)
    view = planar[:, 100:4100].T  # (samples, channels), not C-contiguous: what separation yields
    assert not view.flags.c_contiguous
    y, _ = read_audio(write_audio(tmp_path / "x.wav", view, 8000))
    np.testing.assert_array_equal(y, view)


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(AudioError):
        write_audio(tmp_path / "x.wav", np.zeros((10, 2), np.float32), 0)
    assert list(tmp_path.iterdir()) == []


@needs_ffmpeg
@pytest.mark.parametrize("suffix", [".mp3", ".m4a", ".ogg"])
def test_compressed_formats_keep_rate_and_channels(tmp_path, suffix):
    wav = write_audio(tmp_path / "x.wav", _sine(440.0, 48000, 1.0, 2), 48000)
    out = tmp_path / f"x{suffix}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(out)], check=True)
    y, rate = read_audio(out)
    assert rate == 48000 and y.shape[1] == 2
    assert abs(len(y) - 48000) < 4096  # codec priming/padding only
    assert 0.2 < np.max(np.abs(y[:, 0])) < 0.33  # the left channel is the quieter one


def test_truncated_wav_is_refused(tmp_path):
    path = write_audio(tmp_path / "x.wav", _sine(440.0, 8000), 8000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AudioError, match="truncated"):
        read_audio(path)


def test_text_file_named_wav_is_refused(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all\n")
    with pytest.raises(AudioError, match="cannot"):
        read_audio(path)


def test_empty_and_non_finite_input_are_refused(tmp_path):
    with pytest.raises(AudioError, match="0 samples"):
        check_audio_array(np.zeros((0, 2)), 44100)
    with pytest.raises(AudioError, match="NaN or Inf"):
        check_audio_array(np.array([[0.0], [np.inf]]), 44100)
    path = tmp_path / "empty.wav"
    sf.write(path, np.zeros((0, 2)), 44100)
    with pytest.raises(AudioError, match="0 samples"):
        read_audio(path)


def test_array_source_reads_zeros_outside_the_signal():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    source = ArraySource(x, 8000)
    y = source.read(-2, 7)
    assert y.shape == (9, 2)
    np.testing.assert_array_equal(y[2:7], x)
    assert not y[:2].any() and not y[7:].any()


def test_input_name():
    assert input_name("a/Song - Title.stem.mp4") == "Song - Title"
    assert input_name("b/track.flac") == "track"


@needs_ffmpeg
def test_stem_mp4_reads_the_mixture_stream(tmp_path):
    mixture = write_audio(tmp_path / "m.wav", _sine(440.0, 44100, 1.0, 2), 44100)
    other = write_audio(tmp_path / "o.wav", 0.01 * _sine(880.0, 44100, 1.0, 2), 44100)
    stem = tmp_path / "track.stem.mp4"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(mixture),
            "-i",
            str(other),
            "-map",
            "0:a",
            "-map",
            "1:a",
            "-c:a",
            "aac",
            str(stem),
        ],
        check=True,
    )
    y, rate = read_audio(stem)
    assert rate == 44100 and y.shape[1] == 2
    assert np.max(np.abs(y[:, 1])) > 0.4  # the loud first stream, not the quiet second one
