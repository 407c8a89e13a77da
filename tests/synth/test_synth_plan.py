"""The train/test plan and the track spec of `cunet synth` (no rendering)."""

from pathlib import Path

import pytest

from cunet.errors import CunetError
from cunet.synth.dataset import DEFAULT_TRACKS, plan, track_count
from cunet.synth.soundfonts import held_out
from cunet.synth.tracks import TrackSpec

FONTS = [Path("/fonts/a.sf2"), Path("/fonts/b.sf2")]


def test_track_count_from_tracks_hours_or_default():
    assert track_count(7, None, 180.0) == 7
    assert track_count(None, 10.0, 180.0) == 200
    assert track_count(None, 0.01, 180.0) == 1
    assert track_count(None, None, 180.0) == DEFAULT_TRACKS


def test_plan_splits_tracks_with_disjoint_names_and_random_streams():
    specs = plan(3, 10, 0.3, 60.0, FONTS[:1], FONTS)
    test = [s for s in specs if s.split == "test"]
    train = [s for s in specs if s.split == "train"]
    assert len(test) == 3 and len(train) == 7
    assert len({s.name for s in specs}) == 10
    assert all(s.soundfonts == (str(FONTS[0]),) for s in train)
    assert all(s.soundfonts == tuple(str(f) for f in FONTS) for s in test)
    draws = {round(s.rng("music").random(), 12) for s in specs}
    assert len(draws) == 10  # test index 0 and train index 0 do not share a stream
    assert plan(3, 10, 0.3, 60.0, FONTS[:1], FONTS) == specs


def test_plan_of_midi_files_takes_a_seeded_selection():
    files = [Path(f"/midi/song{i}.mid") for i in range(6)]
    specs = plan(1, 4, 0.25, 60.0, FONTS, FONTS, files)
    assert len(specs) == 4 and len({s.midi for s in specs}) == 4
    assert all(s.name.endswith(Path(s.midi).stem) for s in specs)
    assert [s.midi for s in plan(1, 10, 0.25, 60.0, FONTS, FONTS, files)][:1] == [specs[0].midi]
    assert [s.midi for s in plan(2, 4, 0.25, 60.0, FONTS, FONTS, files)] != [s.midi for s in specs]


def test_spec_round_trip_and_unknown_keys():
    spec = plan(0, 1, 0.0, 30.0, FONTS, FONTS)[0]
    assert TrackSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(CunetError, match="unknown track spec key 'tempo'"):
        TrackSpec.from_dict(spec.to_dict() | {"tempo": 120})


def test_held_out_soundfonts_must_be_among_those_used(tmp_path):
    fonts = []
    for name in ("a.sf2", "b.sf2"):
        (tmp_path / name).write_bytes(b"RIFF\x00\x00\x00\x00sfbk")
        fonts.append((tmp_path / name).absolute())
    assert held_out(fonts, [str(tmp_path / "b.sf2")]) == fonts[:1]
    (tmp_path / "c.sf2").write_bytes(b"RIFF\x00\x00\x00\x00sfbk")
    with pytest.raises(CunetError, match="not among the SoundFonts"):
        held_out(fonts, [str(tmp_path / "c.sf2")])
    with pytest.raises(CunetError, match="every SoundFont is excluded"):
        held_out(fonts, [str(f) for f in fonts])
    (tmp_path / "x.sf2").write_bytes(b"not a soundfont")
    with pytest.raises(CunetError, match="is not a SoundFont"):
        held_out(fonts, [str(tmp_path / "x.sf2")])
