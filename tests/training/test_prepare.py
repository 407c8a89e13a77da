"""`cunet prepare`: MUSDB18 roots of both layouts to a stem cache, and every way it can fail."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cunet.cli import main
from cunet.config import config_hash, load_config
from cunet.training.cache import MANIFEST, CacheError, assign_splits, open_cache, prepare_cache
from musdb_fixtures import make_musdb_root, synth_stems

MUSDB_MINI = Path(__file__).resolve().parents[3] / "shared" / "musdb-mini"


def prepare(capsys, root, out, *extra):
    code = main(["prepare", "--musdb-root", str(root), "--config", "tiny", "--out", str(out), "--quiet", *extra])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def expected_track(seed, config):
    """The fixture track `seed` as the cache should hold it: mono, at the config's rate."""
    import soxr

    stems = synth_stems(3.0, 44100, seed)
    return np.stack(
        [
            soxr.resample(stems[name].mean(axis=1), 44100, config.audio.sample_rate, quality="VHQ")
            for name in config.instruments
        ],
        axis=1,
    )


@pytest.mark.parametrize("layout", ["wav", "stems"])
def test_cache_round_trip(tmp_path, capsys, layout):
    config = load_config("tiny")
    root = make_musdb_root(tmp_path / "musdb", layout)
    extra = ("--is-wav",) if layout == "wav" else ()
    code, out, err = prepare(capsys, root, tmp_path / "cache", *extra)
    assert code == 0, err
    assert "2 written, 0 already cached" in out
    manifest = json.loads((tmp_path / "cache" / MANIFEST).read_text())
    assert manifest["config_hash"] == config_hash(config) and manifest["complete"]
    assert manifest["sample_rate"] == 8192 and manifest["instruments"] == config.instruments
    assert sorted(t["split"] for t in manifest["tracks"]) == ["train", "valid"]
    cache = open_cache(tmp_path / "cache", config)
    for seed, track in enumerate(sorted(cache.tracks, key=lambda t: t.name), start=1):
        array = cache.read_track(track)
        assert isinstance(array, np.memmap) and array.dtype == np.float32
        expected = expected_track(seed, config)
        assert abs(array.shape[0] - expected.shape[0]) <= 2048 and array.shape[1] == 4
        n = min(len(array), len(expected)) - 2048  # AAC adds a little delay and padding
        if layout == "wav":
            np.testing.assert_allclose(array[:n], expected[:n], atol=1e-5)
        else:
            for column in range(4):  # lossy codec: same signal up to a small delay
                a, b = array[4096:n, column], expected[4096:n, column]
                lags = range(-1200, 1200, 1)
                best = max(np.dot(np.roll(a, lag), b) / (np.linalg.norm(a) * np.linalg.norm(b)) for lag in lags[::8])
                assert best > 0.99, (column, best)

    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir() if p.suffix == ".npy"}
    code, out, _ = prepare(capsys, root, tmp_path / "cache", *extra)
    assert code == 0 and "0 written, 2 already cached" in out
    assert mtimes == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir() if p.suffix == ".npy"}


def test_interrupted_run_resumes(tmp_path):
    config = load_config("tiny")
    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 3})
    seen = []

    def stop_after_first(name, written):
        seen.append(name)
        if len(seen) == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare_cache(root, config, tmp_path / "cache", is_wav=True, progress=False, on_track=stop_after_first)
    with pytest.raises(CacheError, match="incomplete .1 of 3 tracks.*re-run `cunet prepare`"):
        open_cache(tmp_path / "cache", config)
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no temp files left
    events = []
    cache = prepare_cache(
        root,
        config,
        tmp_path / "cache",
        is_wav=True,
        progress=False,
        on_track=lambda name, written: events.append((name, written)),
    )
    assert events == [(seen[0], False)] + [(name, True) for name, _ in events[1:]] and len(events) == 3
    assert len(cache.tracks) == 3


def one_line_error(code, err):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cunet prepare: error: "), err
    return lines[0]


def test_bad_roots_give_one_clear_line(tmp_path, capsys):
    out = tmp_path / "cache"
    line = one_line_error(*prepare(capsys, tmp_path / "nowhere", out)[::2])
    assert "MUSDB18 root not found" in line
    (tmp_path / "empty").mkdir()
    line = one_line_error(*prepare(capsys, tmp_path / "empty", out)[::2])
    assert "no 'train' folder" in line
    (tmp_path / "empty" / "train").mkdir()
    line = one_line_error(*prepare(capsys, tmp_path / "empty", out, "--is-wav")[::2])
    assert "no MUSDB18-HQ track folders" in line
    wav = make_musdb_root(tmp_path / "wav", "wav", tracks={"train": 2})
    line = one_line_error(*prepare(capsys, wav, out)[::2])
    assert "no MUSDB18 .stem.mp4 files" in line and "add --is-wav" in line
    assert not out.exists()


def test_missing_stem_and_unreadable_audio_keep_the_cache(tmp_path, capsys):
    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 2})
    out = tmp_path / "cache"
    assert prepare(capsys, root, out, "--is-wav")[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    extra = root / "train" / "Zz Broken - Song"
    shutil.copytree(next((root / "train").iterdir()), extra)
    (extra / "bass.wav").unlink()
    line = one_line_error(*prepare(capsys, root, out, "--is-wav")[::2])
    assert "Zz Broken - Song" in line and "bass.wav" in line

    (extra / "bass.wav").write_bytes(b"RIFF....WAVEfmt not really audio")
    line = one_line_error(*prepare(capsys, root, out, "--is-wav")[::2])
    assert "cannot read track 'Zz Broken - Song'" in line
    for name, data in before.items():
        if name != MANIFEST:
            assert (out / name).read_bytes() == data
    manifest = json.loads((out / MANIFEST).read_text())
    assert {t["name"] for t in manifest["tracks"]} == {t["name"] for t in json.loads(before[MANIFEST])["tracks"]}

    stems = make_musdb_root(tmp_path / "stems", "stems", tracks={"train": 1})
    broken = stems / "train" / "Zz Broken.stem.mp4"
    broken.write_bytes(b"\x00\x00\x00 ftypisom not an mp4")
    line = one_line_error(*prepare(capsys, stems, tmp_path / "cache2")[::2])
    assert "cannot read track 'Zz Broken'" in line


def test_a_cache_folder_of_another_config_is_not_overwritten(tmp_path, capsys):
    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 2})
    out = tmp_path / "cache"
    assert prepare(capsys, root, out, "--is-wav")[0] == 0
    manifest = (out / MANIFEST).read_text()
    other = tmp_path / "other.yaml"
    other.write_text((Path(__file__).parents[2] / "configs" / "tiny.yaml").read_text().replace("8192", "11025"))
    code = main(
        ["prepare", "--musdb-root", str(root), "--is-wav", "--config", str(other), "--out", str(out), "--quiet"]
    )
    line = one_line_error(code, capsys.readouterr().err)
    assert config_hash(load_config("tiny")) in line and config_hash(load_config(other)) in line
    assert (out / MANIFEST).read_text() == manifest
    with pytest.raises(CacheError, match="no stem cache"):
        open_cache(tmp_path / "missing", load_config("tiny"))


def test_splits_official_for_musdb_names_else_a_stable_fraction():
    official = assign_splits(["Actions - One Minute Smile", "A Classic Education - NightOwl"], 0.5)
    assert official == {"Actions - One Minute Smile": "valid", "A Classic Education - NightOwl": "train"}
    names = [f"Song {i}" for i in range(20)]
    splits = assign_splits(names, 0.2)
    assert sum(v == "valid" for v in splits.values()) == 4
    assert assign_splits(list(reversed(names)), 0.2) == splits
    grown = assign_splits(names + ["Song 20"], 0.2)
    assert sum(v == "valid" for v in grown.values()) == 4


@pytest.mark.slow
def test_prepare_two_tracks_of_musdb_mini(tmp_path, capsys):
    if not MUSDB_MINI.is_dir():
        pytest.skip("../shared/musdb-mini is absent")
    code, out, err = prepare(capsys, MUSDB_MINI, tmp_path / "cache", "--limit", "2")
    assert code == 0, err
    cache = open_cache(tmp_path / "cache", load_config("tiny"))
    assert len(cache.tracks) == 2
    for track in cache.tracks:
        array = cache.read_track(track)
        assert abs(array.shape[0] - 30 * 8192) < 8192 and np.abs(array).max() > 0.01


def test_an_out_path_that_is_a_file_is_refused(tmp_path, capsys):
    root = make_musdb_root(tmp_path / "musdb", "wav", tracks={"train": 1})
    (tmp_path / "taken").write_text("keep me")
    line = one_line_error(*prepare(capsys, root, tmp_path / "taken", "--is-wav")[::2])
    assert "is a file" in line and (tmp_path / "taken").read_text() == "keep me"
