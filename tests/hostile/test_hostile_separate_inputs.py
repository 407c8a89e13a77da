"""`cunet separate` against hostile inputs and situations, in process: every refusal is one
line and exit code 2 with nothing written; what is missing is written, what exists is kept."""

import os
import pathlib

import numpy as np
import pytest
import soundfile as sf

from cunet.cli import main as cli_main
from cunet.config import load_config
from cunet.errors import CunetError
from cunet.model.files import save_model
from cunet.model.unet import build_model
from cunet.separation.masks import TensorFlowMasks
from cunet.separation.separator import Separator


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    config = load_config("tiny")
    return save_model(build_model(config, compile=False), config, tmp_path_factory.mktemp("model") / "tiny.keras")


def _song(path, rate=22050, seconds=0.6, channels=2):
    x = (0.1 * np.random.default_rng(0).standard_normal((int(rate * seconds), channels))).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype="PCM_16")
    return path


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def _fails(capsys, argv, match):
    code = cli_main(["separate", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("cunet separate: error: "), err
    assert match in err[0], err[0]


def test_skip_existing_writes_the_missing_stems_and_keeps_the_rest(tmp_path, model_file, capsys):
    src = _song(tmp_path / "a.wav")
    out = tmp_path / "o"
    base = [str(src), "--model", str(model_file), "--out-dir", str(out)]
    assert cli_main(["separate", *base, "-i", "vocals"]) == 0
    vocals = out / "a" / "vocals.wav"
    vocals.write_bytes(vocals.read_bytes())  # an earlier result, recognisable by its mtime
    before = vocals.stat().st_mtime_ns
    assert cli_main(["separate", *base, "--skip-existing", "--residual"]) == 0
    assert _tree(out) == ["a", "a/bass.wav", "a/drums.wav", "a/other.wav", "a/residual.wav", "a/vocals.wav"]
    assert vocals.stat().st_mtime_ns == before
    # the residual is the song minus every estimate, also those it did not write again
    x, _ = sf.read(src, dtype="float32")
    parts = sum(sf.read(out / "a" / f"{n}.wav", dtype="float32")[0] for n in ("bass", "drums", "other", "vocals"))
    np.testing.assert_allclose(sf.read(out / "a" / "residual.wav", dtype="float32")[0], x - parts, atol=1e-5)


@pytest.mark.parametrize(
    "options, match",
    [
        (["--block-seconds", "nan"], "--block-seconds must be 0.1 to 3600, got nan"),
        (["--block-seconds", "inf"], "--block-seconds must be 0.1 to 3600, got inf"),
        (["--block-seconds", "0"], "--block-seconds must be"),
        (["--overlap", "nan"], "--overlap must be 0 to 0.9"),
        (["--overlap", "0.95"], "--overlap must be 0 to 0.9"),
        (["--wiener", "--wiener-iterations", "1000000"], "--wiener-iterations must be 0 to 100"),
        (["--wiener-iterations", "-1"], "--wiener-iterations must be 0 to 100"),
        (["-i", "vocals=1e5"], "must be 0 to 10, got 1e5"),
        (["-i", "vocals=nan"], "must be 0 to 10, got nan"),
        (["-i", "vocals=-1"], "must be 0 to 10"),
        (["--format", "mp3", "--bitrate", "999k"], "bitrate must be 32k to 320k"),
        (["--format", "flac", "--wav-bits", "16"], "--wav-bits applies to wav output only"),
        (["--bitrate", "128k"], "--bitrate applies to mp3 output only"),
        (["--filename", "{track}/{nope}.{ext}"], "unknown field {nope}"),
        (["--filename", "{track}.{ext}"], "must contain {stem}"),
        (["--filename", "../{stem}.{ext}"], "relative path inside the output folder"),
        (["--filename", "/tmp/{stem}.{ext}"], "relative path inside the output folder"),
        (["--filename", "{stem!r}.{ext}"], "no format spec or conversion"),
    ],
)
def test_bad_numbers_and_options_are_one_line_and_write_nothing(tmp_path, model_file, capsys, options, match):
    src = _song(tmp_path / "s.wav", seconds=0.2)
    _fails(capsys, [str(src), "--model", str(model_file), "--out-dir", str(tmp_path / "o"), *options], match)
    assert not (tmp_path / "o").exists()


def test_mp3_refuses_more_than_two_channels_before_writing(tmp_path, model_file, capsys):
    src = _song(tmp_path / "six.wav", seconds=0.2, channels=6)
    _fails(
        capsys,
        [str(src), "--model", str(model_file), "-i", "vocals", "--format", "mp3", "--out-dir", str(tmp_path / "o")],
        "mp3 holds 1 or 2 channels",
    )
    assert not (tmp_path / "o").exists()


def test_unreadable_input_folder_is_one_line(tmp_path, model_file, capsys, monkeypatch):
    locked = tmp_path / "locked"
    _song(locked / "song.wav", seconds=0.2)
    argv = [str(locked / "song.wav"), "--model", str(model_file), "--out-dir", str(tmp_path / "o")]
    if os.geteuid() != 0:
        locked.chmod(0)
        try:
            _fails(capsys, argv, "Permission denied")
        finally:
            locked.chmod(0o755)
    else:  # root reads any folder: the kernel's answer to anyone else, PermissionError from stat()
        real = pathlib.Path.exists

        def exists(self, *args, **kwargs):
            if self.is_relative_to(locked):
                raise PermissionError(13, "Permission denied", str(self))
            return real(self, *args, **kwargs)

        monkeypatch.setattr(pathlib.Path, "exists", exists)
        _fails(capsys, argv, f"cannot read input {locked / 'song.wav'}: Permission denied")
    assert not (tmp_path / "o").exists()


class _NonFiniteMasks:
    """A runtime gone wrong: the model's masks with NaN (or Inf) in one patch of each call."""

    def __init__(self, inner, value):
        self.inner, self.value = inner, value

    def __call__(self, patches, condition=None):
        masks = np.array(self.inner(patches, condition))
        masks[0, ..., 3, 2] = self.value
        return masks


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy on the Inf masks, before the check refuses them
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_separation_is_an_error_never_a_file(tmp_path, tiny, value):
    masks = _NonFiniteMasks(TensorFlowMasks(build_model(tiny, compile=False), tiny), value)
    separator = Separator(masks, tiny, block_seconds=0.2)
    src = _song(tmp_path / "s.wav")
    with pytest.raises(CunetError, match="runtime produced NaN or Inf samples for 'vocals'"):
        separator.separate_file(src, tmp_path / "o", ["vocals"], progress=False)
    assert not (tmp_path / "o").exists()


def test_an_output_written_meanwhile_by_another_run_is_not_replaced(tmp_path, tiny):
    separator = Separator(TensorFlowMasks(build_model(tiny, compile=False), tiny), tiny, block_seconds=0.2)
    src = _song(tmp_path / "s.wav")
    target = tmp_path / "o" / "s" / "drums.wav"

    def other_run_finishes(fraction):  # another process publishes drums.wav while this one writes
        if not target.exists():
            target.write_bytes(b"the other run's result")

    with pytest.raises(CunetError, match=f"output exists: {target}"):
        separator.separate_file(src, tmp_path / "o", ["vocals", "drums"], progress=other_run_finishes)
    assert target.read_bytes() == b"the other run's result"
    assert _tree(tmp_path / "o") == ["s", "s/drums.wav"]  # no partial files (vocals, published after, dropped)
    separator.separate_file(src, tmp_path / "o", ["drums"], overwrite=True, progress=False)
    assert sf.info(target).frames == sf.info(src).frames


def test_partial_files_of_a_live_process_block_a_second_run(tmp_path, model_file, capsys):
    src = _song(tmp_path / "s.wav", seconds=0.2)
    folder = tmp_path / "o" / "s"
    folder.mkdir(parents=True)
    live = folder / f".vocals.wav.cunet-partial-{os.getppid()}-abcd.wav"  # our parent: a running process
    live.write_bytes(b"being written")
    argv = [str(src), "--model", str(model_file), "-i", "vocals", "--out-dir", str(tmp_path / "o")]
    _fails(
        capsys, argv, f"output {folder / 'vocals.wav'} is being written by another cunet process (pid {os.getppid()})"
    )
    assert live.exists()
    dead = folder / ".vocals.wav.cunet-partial-999999999-wxyz.wav"  # no such process: a killed run's leftover
    live.rename(dead)
    assert cli_main(["separate", *argv]) == 0
    assert _tree(tmp_path / "o") == ["s", "s/vocals.wav"]


def test_mp3_without_ffmpeg_is_refused_before_writing(tmp_path, model_file, capsys, monkeypatch):
    import cunet.audio.formats as formats

    monkeypatch.setattr(formats.shutil, "which", lambda name: None)
    src = _song(tmp_path / "s.wav", seconds=0.2)
    argv = [str(src), "--model", str(model_file), "-i", "vocals", "--format", "mp3", "--out-dir", str(tmp_path / "o")]
    _fails(capsys, argv, "mp3 output needs ffmpeg")
    assert not (tmp_path / "o").exists()


def test_api_input_in_an_unreadable_folder_is_a_cunet_error(tmp_path, tiny, monkeypatch):
    separator = Separator(TensorFlowMasks(build_model(tiny, compile=False), tiny), tiny)
    src = _song(tmp_path / "locked" / "s.wav", seconds=0.2)
    real = pathlib.Path.is_file

    def is_file(self):  # what stat() answers to anyone but root in a folder without read/search rights
        if self.is_relative_to(tmp_path / "locked"):
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(pathlib.Path, "is_file", is_file)
    with pytest.raises(CunetError, match=f"cannot read input {src}: Permission denied"):
        separator.separate_file(src, tmp_path / "o", ["vocals"], progress=False)
    assert not (tmp_path / "o").exists()
