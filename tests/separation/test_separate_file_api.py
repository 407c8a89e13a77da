"""`Separator.separate_file`: the file-level Python API, with the CLI's checks and atomic writes."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from cunet.errors import CunetError
from cunet.model.unet import build_model
from cunet.separation.masks import TensorFlowMasks
from cunet.separation.separator import Separator

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="mp3 output needs ffmpeg")


@pytest.fixture(scope="module")
def separator(tiny):
    return Separator(TensorFlowMasks(build_model(tiny, compile=False), tiny), tiny, block_seconds=0.4)


def _song(path, rate=22050, seconds=1.3, channels=2, subtype="PCM_16"):
    x = (0.1 * np.random.default_rng(0).standard_normal((int(rate * seconds), channels))).astype(np.float32)
    sf.write(path, x, rate, subtype=subtype)
    return sf.read(path, dtype="float32", always_2d=True)[0]


def test_writes_what_separate_returns_and_returns_the_paths(tmp_path, separator):
    x = _song(tmp_path / "song.wav")
    written = separator.separate_file(
        tmp_path / "song.wav", tmp_path / "out", ["vocals", "bass+drums"], residual=True, progress=False
    )
    folder = tmp_path / "out" / "song"
    assert written == {name: folder / f"{name}.wav" for name in ("vocals", "bass+drums", "residual")}
    expected = separator.separate(x, 22050, ["vocals", "bass+drums"], residual=True)
    for name, path in written.items():
        y, rate = sf.read(path, dtype="float32", always_2d=True)
        assert rate == 22050 and y.shape == x.shape
        np.testing.assert_allclose(y, expected[name], atol=1e-6)
    assert sorted(p.name for p in folder.iterdir()) == ["bass+drums.wav", "residual.wav", "vocals.wav"]  # no temp files


def test_every_instrument_by_default_and_flac(tmp_path, separator):
    _song(tmp_path / "a.wav", channels=1)
    written = separator.separate_file(tmp_path / "a.wav", tmp_path / "out", fmt="flac", progress=False)
    assert list(written) == separator.instruments
    assert all(sf.info(p).format == "FLAC" and sf.info(p).channels == 1 for p in written.values())


def test_refuses_to_overwrite_unless_asked(tmp_path, separator):
    _song(tmp_path / "s.wav")
    target = tmp_path / "out" / "s" / "vocals.wav"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"keep me")
    with pytest.raises(CunetError, match="output exists"):
        separator.separate_file(tmp_path / "s.wav", tmp_path / "out", ["vocals"], progress=False)
    assert target.read_bytes() == b"keep me"
    separator.separate_file(tmp_path / "s.wav", tmp_path / "out", ["vocals"], overwrite=True, progress=False)
    assert sf.info(target).frames == int(22050 * 1.3)


def test_bad_inputs_are_refused_before_anything_is_written(tmp_path, separator):
    with pytest.raises(CunetError, match="input not found"):
        separator.separate_file(tmp_path / "missing.wav", tmp_path / "out", ["vocals"])
    x = np.zeros((1000, 2), np.float32)
    x[500, 1] = np.nan
    sf.write(tmp_path / "nan.wav", x, 8000, subtype="FLOAT")
    with pytest.raises(CunetError, match="NaN or Inf"):
        separator.separate_file(tmp_path / "nan.wav", tmp_path / "out", ["vocals"])
    _song(tmp_path / "ok.wav")
    with pytest.raises(CunetError, match="unknown instrument 'guitar'"):
        separator.separate_file(tmp_path / "ok.wav", tmp_path / "out", ["guitar"])
    with pytest.raises(CunetError, match="unknown output format"):
        separator.separate_file(tmp_path / "ok.wav", tmp_path / "out", ["vocals"], fmt="ogg")
    assert not (tmp_path / "out").exists()


def test_progress_callable_reports_fractions_up_to_one(tmp_path, separator):
    _song(tmp_path / "p.wav", seconds=1.3)
    seen = []
    separator.separate_file(tmp_path / "p.wav", tmp_path / "out", ["vocals"], progress=seen.append)
    assert len(seen) == separator.block_count(int(22050 * 1.3), 22050) > 1
    assert seen == sorted(seen) and 0 < seen[0] < 1 and seen[-1] == 1.0


@needs_ffmpeg
def test_output_options_through_the_api(tmp_path, separator):
    _song(tmp_path / "m.wav", channels=2)
    written = separator.separate_file(
        tmp_path / "m.wav",
        tmp_path / "out",
        ["vocals"],
        fmt="mp3",
        bitrate="128k",
        filename="{track}-{stem}.{ext}",
        progress=False,
    )
    assert written == {"vocals": tmp_path / "out" / "m-vocals.mp3"}
    assert sf.info(written["vocals"]).format == "MP3" and sf.info(written["vocals"]).frames == int(22050 * 1.3)
    written = separator.separate_file(tmp_path / "m.wav", tmp_path / "out", ["bass"], wav_bits=16, progress=False)
    assert sf.info(written["bass"]).subtype == "PCM_16"
    with pytest.raises(CunetError, match="unknown field"):
        separator.separate_file(tmp_path / "m.wav", tmp_path / "out", ["bass"], filename="{song}/{stem}.{ext}")
