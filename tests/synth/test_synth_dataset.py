"""`cunet synth` end to end on tiny songs: MUSDB18-HQ layout, exact mixtures, bit-exact repeats,
resume, held-out SoundFonts, MIDI input, and the layout read by musdb, prepare and evaluate."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from cunet.cli import main
from cunet.synth.tracks import TrackSpec
from synth_fixtures import FLUID_R3, TIM_GM, needs_synth, write_midi

STEM_FILES = ("mixture", "vocals", "drums", "bass", "other")
ARGS = [
    "--tracks",
    "3",
    "--seconds",
    "3.5",
    "--seed",
    "7",
    "--test-fraction",
    "0.34",
    "--soundfont",
    str(FLUID_R3),
    "--soundfont",
    str(TIM_GM),
    "--exclude-soundfont-from-train",
    str(TIM_GM),
    "--quiet",
]

pytestmark = needs_synth


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Three tiny songs (two train, one test) rendered by two worker processes."""
    root = tmp_path_factory.mktemp("synth") / "root"
    assert main(["synth", str(root), *ARGS, "--jobs", "2"]) == 0
    return root


def _tracks(root):
    return sorted(p for p in root.glob("*/*") if p.is_dir())


def test_layout_and_exact_mixture(rendered):
    tracks = _tracks(rendered)
    assert [t.parent.name for t in tracks] == ["test", "train", "train"]
    for track in tracks:
        audio = {}
        for name in STEM_FILES:
            audio[name], rate = sf.read(track / f"{name}.wav", dtype="float32", always_2d=True)
            assert rate == 44100 and audio[name].shape == (int(3.5 * 44100), 2)
            assert sf.info(track / f"{name}.wav").subtype == "PCM_16"
        total = audio["vocals"] + audio["drums"] + audio["bass"] + audio["other"]
        assert np.array_equal(audio["mixture"], total)  # the sum of the 16-bit stems, exactly
        assert 0.05 < np.abs(audio["mixture"]).max() <= 0.9


def test_same_seed_same_bytes_with_one_job(rendered, tmp_path):
    again = tmp_path / "again"
    assert main(["synth", str(again), *ARGS, "--jobs", "1"]) == 0
    for track in _tracks(rendered):
        for name in (*STEM_FILES, "track"):
            suffix = ".json" if name == "track" else ".wav"
            first = (track / f"{name}{suffix}").read_bytes()
            assert first == (again / track.parent.name / track.name / f"{name}{suffix}").read_bytes(), name


def test_track_json_renders_the_track_again(rendered, tmp_path, capsys):
    track = _tracks(rendered)[1]
    info = json.loads((track / "track.json").read_text())
    spec = TrackSpec.from_dict(info["spec"])
    assert spec.to_dict() == info["spec"] and spec.split == "train"
    assert {"tempo", "key", "mode", "meter", "style", "sections", "parts"} <= set(info["song"])
    assert set(info["stems"]) == {"vocals", "drums", "bass", "other"}
    assert main(["synth", "--from-json", str(track / "track.json"), str(tmp_path / "copy")]) == 0
    copy = tmp_path / "copy" / "train" / track.name
    for name in STEM_FILES:
        assert (copy / f"{name}.wav").read_bytes() == (track / f"{name}.wav").read_bytes()


def test_held_out_soundfont_only_in_test_and_other_seeds(rendered):
    fonts = {}
    for track in _tracks(rendered):
        info = json.loads((track / "track.json").read_text())
        fonts[track.parent.name] = fonts.get(track.parent.name, set()) | set(info["spec"]["soundfonts"])
        assert info["spec"]["seed"] == 7
    assert str(TIM_GM) not in fonts["train"] and str(TIM_GM) in fonts["test"]
    train = TrackSpec.from_dict(json.loads((_tracks(rendered)[1] / "track.json").read_text())["spec"])
    test = TrackSpec.from_dict(json.loads((_tracks(rendered)[0] / "track.json").read_text())["spec"])
    assert train.index == test.index == 0
    assert train.rng("music").random() != test.rng("music").random()


def test_resume_keeps_finished_tracks_and_redoes_partial_ones(rendered, tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(rendered, root)
    first, second = _tracks(root)[1:]
    kept = {p.name: p.stat().st_mtime_ns for p in first.iterdir()}
    reference = (second / "mixture.wav").read_bytes()
    # an interrupted run: the second track only got as far as its partial folder
    partial = second.parent / f".{second.name}.partial-x1y2"
    second.rename(partial)
    (partial / "vocals.wav").write_bytes(b"half")
    assert main(["synth", str(root), *ARGS, "--jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "1 songs written, 2 already there" in out and "1 partial folders swept" in out
    assert {p.name: p.stat().st_mtime_ns for p in first.iterdir()} == kept
    assert (second / "mixture.wav").read_bytes() == reference
    assert not list(root.glob("*/.*partial*"))


def test_other_options_into_the_same_folder_are_refused(rendered, tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(rendered, root)
    changed = [a if a != "3.5" else "3" for a in ARGS]
    assert main(["synth", str(root), *changed]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "rendered with other options" in err


def test_musdb_prepare_and_evaluate_read_it(rendered, tmp_path, capsys):
    import musdb

    db = musdb.DB(str(rendered), is_wav=True)
    assert sorted(t.name for t in db) == sorted(t.name for t in _tracks(rendered))
    assert db.load_mus_tracks(subsets="train")[0].targets["vocals"].audio.shape[1] == 2
    assert (
        main(
            [
                "prepare",
                "--musdb-root",
                str(rendered),
                "--is-wav",
                "--config",
                "tiny",
                "--out",
                str(tmp_path / "cache"),
                "--jobs",
                "1",
                "--quiet",
            ]
        )
        == 0
    )
    assert "2 tracks" in capsys.readouterr().out
    assert (
        main(
            [
                "evaluate",
                "--musdb-root",
                str(rendered),
                "--is-wav",
                "--baselines",
                "mixture",
                "--targets",
                "bass,other",
                "--out",
                str(tmp_path / "scores"),
                "--jobs",
                "1",
                "--no-progress",
            ]
        )
        == 0
    )
    assert (tmp_path / "scores" / "results.csv").read_text().count("baseline-mixture") >= 4


def test_midi_folder_maps_parts_and_skips_broken_files(tmp_path, capsys):
    folder = tmp_path / "midi"
    folder.mkdir()
    write_midi(folder / "good.mid")
    write_midi(folder / "flute.mid", melody_name="Flute")
    (folder / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06garbage")
    (folder / "empty.midi").write_bytes(b"")
    root = tmp_path / "root"
    assert (
        main(
            [
                "synth",
                str(root),
                "--midi",
                str(folder),
                "--tracks",
                "4",
                "--seconds",
                "3",
                "--soundfont",
                str(TIM_GM),
                "--quiet",
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert "2 songs written" in captured.out and "2 MIDI files skipped" in captured.out
    skipped = [line for line in captured.err.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 2 and {"broken.mid", "empty.midi"} == {line.split(":")[0].split("/")[-1] for line in skipped}
    for track in _tracks(root):
        parts = json.loads((track / "track.json").read_text())["song"]["parts"]
        stems = {p["name"]: p["stem"] for p in parts}
        assert stems["Drums"] == "drums" and stems["Bass"] == "bass" and stems["Piano"] == "other"
        (melody,) = [p for p in parts if p["stem"] == "vocals"]
        assert melody["sung"] or melody["program"] in (52, 53, 54, 85)


def test_missing_soundfont_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "out"), "--soundfont", str(tmp_path / "none.sf2")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sudo apt-get install fluidsynth fluid-soundfont-gm" in err
    assert not (tmp_path / "out").exists()


def test_synth_imports_no_tensorflow(tmp_path):
    code = (
        "import sys\n"
        "from cunet.cli import main\n"
        f"assert main(['synth', {str(tmp_path / 'out')!r}, '--tracks', '1', '--seconds', '2', '--soundfont', "
        f"{str(TIM_GM)!r}, '--jobs', '1', '--quiet']) == 0\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out" / "train" / "synth-s0-00000" / "mixture.wav").is_file()


def test_a_track_of_another_version_is_refused_not_mixed(rendered, tmp_path, capsys):
    root = tmp_path / "root"
    shutil.copytree(rendered, root)
    track_json = _tracks(root)[1] / "track.json"
    info = json.loads(track_json.read_text())
    info["spec"]["version"] = 1
    track_json.write_text(json.dumps(info))
    assert main(["synth", str(root), *ARGS]) == 2
    assert "another version of cunet synth" in capsys.readouterr().err
