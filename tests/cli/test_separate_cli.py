"""`cunet separate` on files: outputs, and every bad input as one line, exit code 2, nothing written."""

import shutil
import subprocess
import zipfile

import numpy as np
import pytest
import soundfile as sf

from cunet.cli import main as cli_main
from cunet.config import load_config
from cunet.model.files import save_model
from cunet.model.unet import build_model

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    config = load_config("tiny")
    return save_model(build_model(config, compile=False), config, tmp_path_factory.mktemp("model") / "tiny.keras")


def main(argv):
    return cli_main(["separate", *argv])


def _song(path, rate=44100, seconds=1.0, channels=2, subtype="PCM_16"):
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((int(rate * seconds), channels))).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype=subtype)
    return path


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _fails(capsys, argv, match):
    """Run the CLI, expect exit 2 and exactly one stderr line containing `match`."""
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("cunet separate: error: "), err
    assert match in err[0], err[0]


def test_separates_files_and_folders_at_their_own_rate_and_channels(tmp_path, model_file, capsys):
    a = _song(tmp_path / "in" / "a.wav", rate=48000, channels=2)
    b = _song(tmp_path / "in" / "sub" / "b.flac", rate=22050, channels=1)
    code = main(
        [
            str(tmp_path / "in"),
            "--model",
            str(model_file),
            "-i",
            "vocals",
            "-i",
            "vocals+drums",
            "--residual",
            "--out-dir",
            str(tmp_path / "out"),
            "--format",
            "flac",
        ]
    )
    assert code == 0, capsys.readouterr().err
    for src, name in ((a, "a"), (b, "b")):
        info_in = sf.info(src)
        for stem in ("vocals", "vocals+drums", "residual"):
            info = sf.info(tmp_path / "out" / name / f"{stem}.flac")
            assert (info.samplerate, info.channels, info.frames) == (
                info_in.samplerate,
                info_in.channels,
                info_in.frames,
            )
    assert _tree(tmp_path / "out") == sorted(
        ["a", "b"] + [f"{n}/{s}.flac" for n in "ab" for s in ("residual", "vocals", "vocals+drums")]
    )


def test_six_channels_and_wiener(tmp_path, model_file, capsys):
    src = _song(tmp_path / "surround.wav", rate=48000, channels=6, seconds=0.5)
    code = main([str(src), "--model", str(model_file), "-i", "vocals", "--wiener", "--out-dir", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    y, rate = sf.read(tmp_path / "out" / "surround" / "vocals.wav")
    assert rate == 48000 and y.shape == (24000, 6) and np.all(np.isfinite(y))


@needs_ffmpeg
def test_mp3_input(tmp_path, model_file, capsys):
    wav = _song(tmp_path / "x.wav", rate=44100, seconds=1.0)
    mp3 = tmp_path / "song.mp3"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(mp3)], check=True)
    assert main([str(mp3), "--model", str(model_file), "-i", "bass", "--out-dir", str(tmp_path / "out")]) == 0
    info = sf.info(tmp_path / "out" / "song" / "bass.wav")
    assert info.samplerate == 44100 and info.channels == 2


def test_existing_outputs_need_overwrite(tmp_path, model_file, capsys):
    src = _song(tmp_path / "s.wav", seconds=0.3)
    argv = [str(src), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path / "out")]
    assert main(argv) == 0
    target = tmp_path / "out" / "s" / "vocals.wav"
    target.write_bytes(b"keep me")
    _fails(capsys, argv, "use --overwrite")
    assert target.read_bytes() == b"keep me"
    assert main(argv + ["--overwrite"]) == 0
    assert sf.info(target).frames == sf.info(src).frames


# ----------------------------------------------------------------- bad input
def test_missing_path(tmp_path, model_file, capsys):
    _fails(
        capsys,
        [str(tmp_path / "nope.wav"), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path / "o")],
        "input not found",
    )
    assert not (tmp_path / "o").exists()


def test_folder_without_audio(tmp_path, model_file, capsys):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("hi")
    _fails(
        capsys,
        [str(tmp_path / "docs"), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path / "o")],
        "no audio files",
    )


def test_text_file_named_wav(tmp_path, model_file, capsys):
    bad = tmp_path / "fake.wav"
    bad.write_text("this is not audio\n" * 10)
    _fails(capsys, [str(bad), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path / "o")], "fake.wav")
    assert not (tmp_path / "o").exists()


def test_truncated_wav_and_nothing_written_for_the_good_one(tmp_path, model_file, capsys):
    good = _song(tmp_path / "in" / "good.wav")
    bad = _song(tmp_path / "in" / "bad.wav")
    bad.write_bytes(bad.read_bytes()[:5000])
    _fails(
        capsys,
        [str(good), str(bad), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path / "o")],
        "truncated",
    )
    assert not (tmp_path / "o").exists()


def test_zero_samples(tmp_path, model_file, capsys):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 2)), 44100)
    _fails(
        capsys, [str(empty), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path / "o")], "0 samples"
    )


def test_shorter_than_one_frame_still_works(tmp_path, model_file, capsys):
    src = tmp_path / "click.wav"
    sf.write(src, np.full((5, 2), 0.5, np.float32), 44100, subtype="FLOAT")
    assert (
        main([str(src), "--model", str(model_file), "-i", "vocals", "--residual", "--out-dir", str(tmp_path / "o")])
        == 0
    )
    y, _ = sf.read(tmp_path / "o" / "click" / "vocals.wav")
    r, _ = sf.read(tmp_path / "o" / "click" / "residual.wav")
    assert y.shape == (5, 2) and np.allclose(y + r, 0.5, atol=1e-6)


def test_all_zero_audio_gives_no_nan(tmp_path, model_file, capsys):
    src = tmp_path / "silence.wav"
    sf.write(src, np.zeros((20000, 2), np.float32), 44100)
    assert (
        main([str(src), "--model", str(model_file), "-i", "vocals", "--wiener", "--out-dir", str(tmp_path / "o")]) == 0
    )
    y, _ = sf.read(tmp_path / "o" / "silence" / "vocals.wav")
    assert np.all(np.isfinite(y)) and not np.any(y)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_nan_or_inf_samples(tmp_path, model_file, capsys, value):
    x = np.zeros((1000, 2), np.float32)
    x[500, 1] = value
    src = tmp_path / "broken.wav"
    sf.write(src, x, 44100, subtype="FLOAT")
    _fails(
        capsys, [str(src), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path / "o")], "NaN or Inf"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000])
def test_all_rates_mono_and_stereo(tmp_path, model_file, capsys, rate):
    mono = _song(tmp_path / "mono.wav", rate=rate, channels=1, seconds=0.4)
    stereo = _song(tmp_path / "stereo.wav", rate=rate, channels=2, seconds=0.4)
    assert (
        main([str(mono), str(stereo), "--model", str(model_file), "-i", "drums", "--out-dir", str(tmp_path / "o")]) == 0
    )
    for src in (mono, stereo):
        a, b = sf.info(src), sf.info(tmp_path / "o" / src.stem / "drums.wav")
        assert (b.samplerate, b.channels, b.frames) == (a.samplerate, a.channels, a.frames)


def test_unknown_instrument_lists_valid_ones(tmp_path, model_file, capsys):
    src = _song(tmp_path / "s.wav", seconds=0.2)
    _fails(
        capsys,
        [str(src), "--model", str(model_file), "-i", "guitar", "--out-dir", str(tmp_path / "o")],
        "valid instruments: bass, drums, other, vocals",
    )


def test_output_folder_not_writable(tmp_path, model_file, capsys):
    src = _song(tmp_path / "s.wav", seconds=0.2)
    blocker = tmp_path / "file"
    blocker.write_text("a regular file")
    _fails(
        capsys,
        [str(src), "--model", str(model_file), "-i", "vocals", "--out-dir", str(blocker / "out")],
        "cannot write to output folder",
    )


def test_output_path_equal_to_an_input(tmp_path, model_file, capsys):
    src = _song(tmp_path / "vocals" / "vocals.wav", seconds=0.2)
    before = src.read_bytes()
    _fails(
        capsys,
        [str(src), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path), "--overwrite"],
        "is one of the inputs",
    )
    assert src.read_bytes() == before


def test_corrupt_model_file(tmp_path, model_file, capsys):
    src = _song(tmp_path / "s.wav", seconds=0.2)
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(model_file.read_bytes()[:2000])
    _fails(
        capsys, [str(src), "--model", str(corrupt), "-i", "vocals", "--out-dir", str(tmp_path / "o")], "corrupt.keras"
    )


def test_model_with_lambda_layer_is_refused(tmp_path, capsys):
    import keras

    config = load_config("tiny")
    x = keras.Input((config.patch.freq_bins, config.patch.frames, 1), name="magnitude")
    y = keras.layers.Lambda(lambda t: t * 2.0, name="mask")(x)
    unsafe = save_model(keras.Model(x, y), config, tmp_path / "unsafe.keras")
    assert "cunet-config.yaml" in zipfile.ZipFile(unsafe).namelist()
    src = _song(tmp_path / "s.wav", seconds=0.2)
    _fails(
        capsys,
        [str(src), "--model", str(unsafe), "-i", "vocals", "--out-dir", str(tmp_path / "o")],
        "refused by safe loading",
    )
    assert not (tmp_path / "o").exists()


def test_missing_default_model(tmp_path, monkeypatch, capsys):
    import cunet.separation.runtimes as runtimes

    monkeypatch.setattr(runtimes, "default_model_path", lambda: tmp_path / "cunet-default.keras")
    src = _song(tmp_path / "s.wav", seconds=0.2)
    _fails(capsys, [str(src), "-i", "vocals", "--out-dir", str(tmp_path / "o")], "embedded default model")


def test_folder_input_skips_earlier_results_inside_it(tmp_path, model_file, capsys):
    _song(tmp_path / "music" / "song.wav", seconds=0.3)
    argv = [
        str(tmp_path / "music"),
        "--model",
        str(model_file),
        "-i",
        "vocals",
        "--out-dir",
        str(tmp_path / "music" / "separated"),
    ]
    assert main(argv) == 0
    assert main(argv + ["--overwrite"]) == 0  # separated/song/vocals.wav is not a new input
    assert _tree(tmp_path / "music") == ["separated", "separated/song", "separated/song/vocals.wav", "song.wav"]


def test_skip_existing_resumes_an_interrupted_batch(tmp_path, model_file, capsys):
    first = _song(tmp_path / "in" / "first.wav", seconds=0.3)
    _song(tmp_path / "in" / "second.wav", seconds=0.3)
    out = tmp_path / "out"
    assert main([str(first), "--model", str(model_file), "-i", "vocals", "--out-dir", str(out)]) == 0
    done = (out / "first" / "vocals.wav").stat().st_mtime_ns
    argv = [str(tmp_path / "in"), "--model", str(model_file), "-i", "vocals", "--out-dir", str(out)]
    _fails(capsys, argv, "use --overwrite")  # without the flag: refused, nothing written
    assert not (out / "second").exists()
    assert main(argv + ["--skip-existing"]) == 0
    assert f"skipping {first}" in capsys.readouterr().out
    assert (out / "second" / "vocals.wav").is_file()
    assert (out / "first" / "vocals.wav").stat().st_mtime_ns == done


@pytest.mark.slow
def test_musdb_mini_stem_file_end_to_end(tmp_path, model_file, musdb_mini, capsys):
    track = sorted((musdb_mini / "test").glob("*.stem.mp4"))[0]
    argv = [
        str(track),
        "--model",
        str(model_file),
        "-i",
        "vocals",
        "--residual",
        "--wiener",
        "--out-dir",
        str(tmp_path / "out"),
        "--format",
        "flac",
    ]
    assert main(argv) == 0, capsys.readouterr().err
    from cunet.audio.reading import read_audio

    mixture, rate = read_audio(track)  # stream 0 of the .stem.mp4
    folder = tmp_path / "out" / track.name[: -len(".stem.mp4")]
    vocals, r1 = sf.read(folder / "vocals.flac", dtype="float32")
    rest, r2 = sf.read(folder / "residual.flac", dtype="float32")
    assert r1 == r2 == rate == 44100 and vocals.shape == rest.shape == mixture.shape
    assert np.max(np.abs(vocals + rest - mixture)) < 1e-3  # 24-bit flac rounding only
