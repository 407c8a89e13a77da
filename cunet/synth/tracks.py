"""A track: its spec (a pure description: seed, index, options) and its rendering.

`render_track(spec)` is a pure function of the spec, which round-trips through the track's
`track.json`; `cunet.synth.dataset` writes the track's folder, whole or not at all."""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

from cunet.errors import CunetError
from cunet.musdb import STEMS
from cunet.synth import effects, mixing
from cunet.synth.midi import read_song
from cunet.synth.music import compose
from cunet.synth.render import RATE, bank
from cunet.synth.song import Part, Song
from cunet.synth.voice import in_range, random_voice, sing

SPEC_VERSION = 5  # raised whenever the same spec would render other audio
SPLIT_CODES = {"train": 0, "test": 1}  # in every seed: the splits' random streams never meet


@dataclass(frozen=True)
class TrackSpec:
    """Everything a track is rendered from. `soundfonts`: the SoundFonts its stems may use;
    `midi`: a MIDI file to render instead of procedural music; `sung_share`: the share of vocal
    parts sung by the voice (the rest play GM choir/voice programs)."""

    name: str
    split: str
    seed: int
    index: int
    seconds: float
    soundfonts: tuple[str, ...]
    midi: str | None = None
    sung_share: float = 0.85
    version: int = SPEC_VERSION

    def to_dict(self) -> dict:
        data = asdict(self)
        data["soundfonts"] = list(self.soundfonts)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrackSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise CunetError(f"unknown track spec key {unknown[0]!r} (known: {', '.join(sorted(known))})")
        if data.get("version", SPEC_VERSION) != SPEC_VERSION:
            raise CunetError(
                f"track spec version {data.get('version')} is not {SPEC_VERSION}: "
                "render it with the cunet that wrote it"
            )
        values = dict(data)
        values["soundfonts"] = tuple(values.get("soundfonts", ()))
        return cls(**values)

    def rng(self, stream: str) -> np.random.Generator:
        """An independent random stream of this track for one concern ("music", "mix", ...)."""
        entropy = [self.seed, SPLIT_CODES[self.split], self.index, zlib.crc32(stream.encode())]
        return np.random.default_rng(np.random.SeedSequence(entropy))


@dataclass
class RenderedTrack:
    """The stems ({name: (2, samples) float32 at `RATE`}, the mixture is their sum) and what was
    chosen while rendering them (for track.json)."""

    stems: dict
    info: dict


def compose_song(spec: TrackSpec) -> Song:
    if spec.midi is not None:
        return read_song(spec.midi, spec.seconds, spec.rng("music"), spec.sung_share)
    return compose(spec.rng("music"), spec.seconds, spec.sung_share)


def render_track(spec: TrackSpec) -> RenderedTrack:
    """Render `spec`: parts (FluidSynth or the voice) -> part effects, pan -> stem effects, width
    -> balance, fade-out and one common gain. Same spec, same samples."""
    song = compose_song(spec)
    samples = int(round(song.length * RATE))
    choose = spec.rng("soundfonts")
    soundfont_of = {stem: spec.soundfonts[int(choose.integers(len(spec.soundfonts)))] for stem in STEMS}
    stems = {stem: np.zeros((2, samples), np.float32) for stem in STEMS}
    voice, shift = _voice(spec, song)
    part_info = []
    for number, part in enumerate(song.parts):
        rng = spec.rng(f"part {number}")
        audio = _part_audio(part, soundfont_of[part.stem], samples, voice, shift, rng)
        chain = effects.part_chain(part, rng)
        position = mixing.random_pan(rng, part.stem, part.role)
        gain_db = round(float(rng.uniform(-4.0, 0.0)) - (6.0 if part.role == "harmony" else 0.0), 2)
        mixing.pan_into(stems[part.stem], effects.apply(chain, audio, RATE), position, 10 ** (gain_db / 20))
        del audio
        info = part.describe() | {"pan": position, "gain_db": gain_db, "effects": chain}
        part_info.append(info | ({} if part.sung else {"soundfont": soundfont_of[part.stem]}))
    return _produce(spec, song, stems, soundfont_of, voice, part_info)


def _produce(spec, song, stems, soundfont_of, voice, part_info) -> RenderedTrack:
    mix = spec.rng("mix")
    stem_info = {}
    for stem in STEMS:
        chain = effects.stem_chain(stem, mix)
        width = round(float(mix.uniform(0.8, 1.3)), 3)
        staging = mixing.stage_gain(stems[stem], RATE)  # the chain's thresholds meet a known level
        stems[stem] *= np.float32(staging)
        stems[stem] = effects.apply(chain, stems[stem], RATE)
        mixing.widen(stems[stem], width)
        stem_info[stem] = {
            "soundfont": soundfont_of[stem],
            "input_gain": round(staging, 6),
            "effects": chain,
            "width": width,
        }
    offsets = mixing.random_offsets(mix)
    gains = mixing.balance(stems, RATE, offsets)
    fade = mixing.fade_out(stems["vocals"].shape[1], RATE)
    for stem in STEMS:
        stems[stem] *= np.float32(gains[stem])
        stems[stem][:, stems[stem].shape[1] - len(fade) :] *= fade
    peak = mixing.mixture_peak(stems)
    common = mixing.PEAK / peak if peak > mixing.PEAK else 1.0
    for stem in STEMS:
        stems[stem] *= np.float32(common)
        stem_info[stem]["gain"] = round(gains[stem] * common, 6)
        stem_info[stem]["level_db"] = mixing.STEM_LEVELS_DB[stem] + offsets[stem]  # relative to the vocals' base
    info = {
        "spec": spec.to_dict(),
        "rate": RATE,
        "song": song.describe() | {"parts": part_info},
        "stems": stem_info,
        "voice": voice.to_dict() if voice is not None else None,
        "common_gain": round(common, 6),
    }
    return RenderedTrack(stems=stems, info=info)


def _voice(spec: TrackSpec, song: Song):
    """The singer of the track's sung parts and the transposition (semitones, whole octaves) that
    fits the first sung part into the singer's range; (None, 0) where nothing is sung."""
    sung = [p for p in song.parts if p.sung and p.notes]
    if not sung:
        return None, 0
    voice = random_voice(spec.rng("voice"))
    return voice, in_range(sung[0].notes, voice)[0].pitch - sung[0].notes[0].pitch


def _part_audio(part: Part, soundfont: str, samples: int, voice, shift: int, rng: np.random.Generator) -> np.ndarray:
    """The part's dry audio: (2, samples) float32 from FluidSynth, (1, samples) for the voice."""
    if not part.sung:
        return bank().render(part, soundfont, samples)
    notes = [replace(n, pitch=int(np.clip(n.pitch + shift, 0, 127))) for n in part.notes]
    sung = sing(notes, RATE, voice, int(rng.integers(2**31)))
    out = np.zeros((1, samples), np.float32)
    out[0, : min(samples, len(sung))] = sung[:samples]
    return out


def track_json(rendered: RenderedTrack) -> str:
    return json.dumps(rendered.info, indent=1, sort_keys=False) + "\n"
