"""Seeded production effects with pedalboard: a short chain per stem, and per part where the
instrument calls for it (distortion on guitars, chorus on electric pianos and pads). Stem chains
receive their stem at a sounding level of -20 dB RMS (`cunet.synth.mixing.stage_gain`), so their
thresholds act alike whatever the SoundFont.

A chain is a list of {"effect": pedalboard class name, parameters...} dicts, recorded in the
track's JSON; `apply` rebuilds it. Effects shape each stem before the linear mix."""

from __future__ import annotations

import numpy as np

from cunet.synth.song import Part

_GUITARS = range(24, 32)
_CHORUSED = {4, 5, 16, 17, 18, 19} | set(range(88, 96))
DRY_SHARE = 0.3  # stems left as the samples play, as in plain MIDI renders (musdb-mini's are dry)


def _db(rng: np.random.Generator, low: float, high: float) -> float:
    return round(float(rng.uniform(low, high)), 2)


def _compressor(rng: np.random.Generator, threshold_db, ratio, attack_ms, release_ms) -> dict:
    """Each argument a (low, high) range, drawn in this order."""
    return {
        "effect": "Compressor",
        "threshold_db": _db(rng, *threshold_db),
        "ratio": _db(rng, *ratio),
        "attack_ms": _db(rng, *attack_ms),
        "release_ms": _db(rng, *release_ms),
    }


def _reverb(rng: np.random.Generator, wet: tuple[float, float], room: tuple[float, float]) -> dict:
    return {
        "effect": "Reverb",
        "room_size": _db(rng, *room),
        "damping": _db(rng, 0.3, 0.7),
        "wet_level": _db(rng, *wet),
        "dry_level": 1.0,
        "width": _db(rng, 0.7, 1.0),
    }


def stem_chain(stem: str, rng: np.random.Generator) -> list[dict]:
    """Seeded effect settings for one stem: none (a `DRY_SHARE` of stems), or EQ/filter,
    compression, then space (delay, reverb)."""
    chain: list[dict] = []
    if rng.random() < DRY_SHARE:
        return chain
    if stem == "vocals":
        chain.append({"effect": "HighpassFilter", "cutoff_frequency_hz": _db(rng, 80, 160)})
        chain.append(_compressor(rng, (-22, -12), (2, 5), (2, 10), (60, 200)))
        if rng.random() < 0.4:
            chain.append(
                {
                    "effect": "Delay",
                    "delay_seconds": _db(rng, 0.18, 0.45),
                    "feedback": _db(rng, 0.15, 0.4),
                    "mix": _db(rng, 0.08, 0.2),
                }
            )
        chain.append(_reverb(rng, (0.12, 0.32), (0.35, 0.8)))
    elif stem == "drums":
        chain.append(_compressor(rng, (-18, -8), (2, 4), (5, 20), (50, 150)))
        if rng.random() < 0.5:
            chain.append({"effect": "LowShelfFilter", "cutoff_frequency_hz": 100.0, "gain_db": _db(rng, -2, 4)})
        chain.append(_reverb(rng, (0.04, 0.16), (0.15, 0.5)))
        if rng.random() < 0.6:  # transients shaved as in produced mixes (the stem is at -20 dB RMS)
            chain.append({"effect": "Limiter", "threshold_db": _db(rng, -12, -6), "release_ms": _db(rng, 40, 120)})
    elif stem == "bass":
        if rng.random() < 0.5:
            chain.append({"effect": "LowpassFilter", "cutoff_frequency_hz": _db(rng, 1500, 5000)})
        if rng.random() < 0.12:
            chain.append({"effect": "Distortion", "drive_db": _db(rng, 4, 12)})
        chain.append(_compressor(rng, (-20, -10), (3, 6), (5, 25), (80, 200)))
    else:
        if rng.random() < 0.5:
            chain.append({"effect": "HighpassFilter", "cutoff_frequency_hz": _db(rng, 60, 200)})
        chain.append(_compressor(rng, (-20, -10), (1.5, 3), (5, 30), (80, 250)))
        chain.append(_reverb(rng, (0.08, 0.28), (0.3, 0.85)))
    return chain


def part_chain(part: Part, rng: np.random.Generator) -> list[dict]:
    """Effects of one part before it joins its stem: distortion on guitars, chorus on keys and pads."""
    chain: list[dict] = []
    if part.drums:
        return chain
    if part.program in _GUITARS and (part.program in (29, 30) or rng.random() < 0.35):
        chain.append({"effect": "Distortion", "drive_db": _db(rng, 8, 26)})
        chain.append({"effect": "LowpassFilter", "cutoff_frequency_hz": _db(rng, 3500, 7000)})
    if part.program in _CHORUSED and rng.random() < 0.5:
        chain.append(
            {
                "effect": "Chorus",
                "rate_hz": _db(rng, 0.4, 2.0),
                "depth": _db(rng, 0.15, 0.4),
                "mix": _db(rng, 0.25, 0.5),
                "centre_delay_ms": 7.0,
                "feedback": 0.0,
            }
        )
    return chain


def apply(chain: list[dict], audio: np.ndarray, rate: int) -> np.ndarray:
    """`audio` (channels, samples) float32 through `chain`; (channels, samples) float32."""
    if not chain or not audio.any():
        return audio
    import pedalboard

    board = pedalboard.Pedalboard(
        [getattr(pedalboard, step["effect"])(**{k: v for k, v in step.items() if k != "effect"}) for step in chain]
    )
    return board(np.ascontiguousarray(audio, dtype=np.float32), rate, reset=True)
