"""FluidSynth rendering, effects and the mix of `cunet synth`: exact, independent of history, linear."""

import sys

import numpy as np
import pytest

from cunet.synth import effects, mixing
from cunet.synth.notes import Note
from cunet.synth.render import RATE, FluidSynthError, SoundFontBank, import_fluidsynth
from cunet.synth.song import Part
from synth_fixtures import FLUID_R3, TIM_GM, needs_synth

PIANO = Part("piano", "other", 0, tuple(Note(0.1 + 0.3 * i, 0.25, 60 + i, 100) for i in range(6)))
STRINGS = Part("strings", "other", 48, (Note(0.0, 1.5, 55, 90), Note(0.0, 1.5, 62, 90)))
DRUMS = Part(
    "drums", "drums", 0, tuple(Note(0.25 * i, 0.1, 36 if i % 2 == 0 else 42, 100) for i in range(8)), drums=True
)


@needs_synth
def test_a_part_sounds_the_same_whatever_was_rendered_before():
    first = SoundFontBank()
    alone = first.render(PIANO, str(FLUID_R3), RATE * 2)
    other = SoundFontBank()
    other.render(STRINGS, str(FLUID_R3), RATE * 2)
    other.render(DRUMS, str(TIM_GM), RATE * 2)
    after = other.render(PIANO, str(FLUID_R3), RATE * 2)
    assert alone.shape == (2, RATE * 2) and alone.dtype == np.float32
    assert np.abs(alone).max() > 0.01
    np.testing.assert_array_equal(alone, after)


@needs_synth
def test_notes_sound_where_they_are_and_drums_use_the_kit():
    bank = SoundFontBank()
    piano = bank.render(PIANO, str(TIM_GM), RATE * 3)
    assert np.abs(piano[:, : int(0.09 * RATE)]).max() == 0  # silent before the first note
    assert np.abs(piano[:, int(2.5 * RATE) :]).max() < 1e-3  # released after the last
    kit = bank.render(DRUMS, str(TIM_GM), RATE * 2)
    melodic = bank.render(Part("x", "other", 0, DRUMS.notes), str(TIM_GM), RATE * 2)
    assert np.abs(kit).max() > 0.01 and not np.allclose(kit, melodic)


def test_a_missing_fluidsynth_library_is_one_line_naming_the_packages(monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)
    with pytest.raises(FluidSynthError, match="sudo apt-get install fluidsynth fluid-soundfont-gm"):
        import_fluidsynth()


def test_effects_are_seeded_and_keep_shape():
    audio = np.random.default_rng(0).standard_normal((2, RATE)).astype(np.float32) * 0.1
    for stem in ("vocals", "drums", "bass", "other"):
        chain = effects.stem_chain(stem, np.random.default_rng(5))
        assert chain == effects.stem_chain(stem, np.random.default_rng(5))
        out = effects.apply(chain, audio, RATE)
        assert out.shape == audio.shape and out.dtype == np.float32
        np.testing.assert_array_equal(out, effects.apply(chain, audio, RATE))
    guitar = Part("g", "other", 30, PIANO.notes)
    assert any(step["effect"] == "Distortion" for step in effects.part_chain(guitar, np.random.default_rng(0)))


def test_a_share_of_stems_is_left_dry():
    rng = np.random.default_rng(3)
    chains = [effects.stem_chain(stem, rng) for _ in range(200) for stem in ("vocals", "drums", "bass", "other")]
    dry = sum(not chain for chain in chains) / len(chains)
    assert abs(dry - effects.DRY_SHARE) < 0.05


def test_pan_is_constant_power_and_width_keeps_the_mid():
    mono = np.ones((1, 10), np.float32)
    for position in (-1.0, -0.3, 0.0, 0.6):
        stem = np.zeros((2, 10), np.float32)
        mixing.pan_into(stem, mono, position, 0.5)
        assert np.sum(stem[:, 0] ** 2) == pytest.approx(2 * 0.25, rel=1e-5)
    stereo = np.random.default_rng(1).standard_normal((2, 100)).astype(np.float32)
    mid = stereo.sum(axis=0)
    mixing.widen(stereo, 1.3)
    np.testing.assert_allclose(stereo.sum(axis=0), mid, atol=1e-5)


@needs_synth
def test_decoded_presets_are_bounded_and_evicted_ones_sound_the_same(monkeypatch):
    from cunet.synth import render

    monkeypatch.setattr(render, "_PINNED_PER_SOUNDFONT", 4)
    bank = SoundFontBank()
    first = bank.render(PIANO, str(TIM_GM), RATE)
    for program in (24, 33, 40, 56, 73, 0, 81):
        bank.render(Part("p", "other", program, PIANO.notes), str(TIM_GM), RATE // 4)
        assert len(bank._pinned[str(TIM_GM)]) <= 4
    assert (0, 0) in bank._pinned[str(TIM_GM)] and (0, 24) not in bank._pinned[str(TIM_GM)]
    np.testing.assert_array_equal(bank.render(PIANO, str(TIM_GM), RATE), first)
    np.testing.assert_array_equal(
        bank.render(Part("p", "other", 24, PIANO.notes), str(TIM_GM), RATE // 4),
        SoundFontBank().render(Part("p", "other", 24, PIANO.notes), str(TIM_GM), RATE // 4),
    )
