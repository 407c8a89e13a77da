"""The one batch flow (`cunet.separation.files.separate_files`): each input probed once, each
spec parsed once, the per-file step entered once per file, whether from the CLI or the API."""

import numpy as np
import pytest
import soundfile as sf

from cunet.audio import reading
from cunet.cli import main as cli_main
from cunet.config import load_config
from cunet.model.files import save_model
from cunet.model.unet import build_model
from cunet.separation import files, instruments
from cunet.separation.masks import TensorFlowMasks
from cunet.separation.separator import Separator


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    config = load_config("tiny")
    return save_model(build_model(config, compile=False), config, tmp_path_factory.mktemp("model") / "tiny.keras")


def _song(path, rate=22050, seconds=0.5, channels=2, subtype="FLOAT"):
    x = (0.1 * np.random.default_rng(0).standard_normal((int(rate * seconds), channels))).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, rate, subtype=subtype)
    return path


def _count(monkeypatch, module, name, counts):
    original = getattr(module, name)

    def counted(*args, **kwargs):
        counts[name] = counts.get(name, 0) + 1
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)


def test_cli_walk_probes_parses_and_enters_the_per_file_step_once(tmp_path, model_file, monkeypatch, capsys):
    for name in ("a.wav", "b.flac", "sub/c.wav"):
        _song(tmp_path / "in" / name, subtype="PCM_16" if name.endswith("flac") else "FLOAT")
    counts = {}
    _count(monkeypatch, files, "_separate_input", counts)
    _count(monkeypatch, files, "separate_files", counts)
    _count(monkeypatch, files, "probe_audio", counts)  # the check's probe
    _count(monkeypatch, reading, "probe_audio", counts)  # any other (open_audio's own)
    _count(monkeypatch, instruments, "parse_spec", counts)
    argv = [
        "separate",
        str(tmp_path / "in"),
        "--model",
        str(model_file),
        "-i",
        "vocals",
        "-i",
        "bass+drums=0.5",
        "--residual",
        "--out-dir",
        str(tmp_path / "out"),
    ]
    assert cli_main(argv) == 0, capsys.readouterr().err
    assert counts == {"separate_files": 1, "_separate_input": 3, "probe_audio": 3, "parse_spec": 2}
    for song in ("a", "b", "c"):
        assert sorted(p.name for p in (tmp_path / "out" / song).iterdir()) == [
            "bass+drums=0.5.wav",
            "residual.wav",
            "vocals.wav",
        ]


def test_api_separate_file_goes_through_the_same_flow(tmp_path, tiny, monkeypatch):
    separator = Separator(TensorFlowMasks(build_model(tiny, compile=False), tiny), tiny, block_seconds=0.2)
    src = _song(tmp_path / "s.wav")
    counts = {}
    _count(monkeypatch, files, "separate_files", counts)
    _count(monkeypatch, files, "probe_audio", counts)
    _count(monkeypatch, reading, "probe_audio", counts)
    written = separator.separate_file(src, tmp_path / "out", ["vocals"], progress=False)
    assert counts == {"separate_files": 1, "probe_audio": 1}
    y, rate = sf.read(written["vocals"], dtype="float32", always_2d=True)
    x, _ = sf.read(src, dtype="float32", always_2d=True)
    np.testing.assert_allclose(y, separator.separate(x, rate, ["vocals"])["vocals"], atol=1e-6)
