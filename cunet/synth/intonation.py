"""The sung pitch contour: notes joined by glides, with scoops, vibrato and slow drift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Intonation:
    """How a singer moves between and around the written pitches (times in seconds).

    `glide_time`: portamento between adjacent notes; `scoop_probability`/`scoop_cents`: how often
    and how far below a note entered after a rest starts; `vibrato_rate` (Hz), `vibrato_depth`
    (cents, peak) and `vibrato_delay` (after the onset); `drift_cents`: slow random detuning."""

    glide_time: float
    scoop_probability: float
    scoop_cents: float
    vibrato_rate: float
    vibrato_depth: float
    vibrato_delay: float
    drift_cents: float


def _ease(x: np.ndarray) -> np.ndarray:
    """0 -> 1 raised-cosine ramp over x in [0, 1]."""
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(x, 0.0, 1.0))


def pitch_contour(
    onsets: np.ndarray,
    ends: np.ndarray,
    pitches: np.ndarray,
    frames: int,
    frame_period: float,
    style: Intonation,
    rng: np.random.Generator,
) -> np.ndarray:
    """Fractional MIDI pitch of each of `frames` frames.

    `onsets`, `ends`: (notes,) int frame indices, sorted, not overlapping; `pitches`: (notes,)
    MIDI numbers. Between notes the pitch holds the previous note (the voice is silent there)."""
    index = np.arange(frames)
    which = np.clip(np.searchsorted(onsets, index, side="right") - 1, 0, len(onsets) - 1)
    contour = pitches[which].astype(np.float64)
    glide = max(1, round(style.glide_time / frame_period))
    for i, onset in enumerate(onsets):
        length = ends[i] - onset
        after_rest = i == 0 or onset - ends[i - 1] > glide
        if not after_rest:
            ramp = min(glide, max(1, length // 2))
            span = slice(max(0, onset - ramp // 3), min(frames, onset - ramp // 3 + ramp))
            x = (index[span] - span.start + 1) / ramp
            contour[span] = pitches[i - 1] + (pitches[i] - pitches[i - 1]) * _ease(x)
        elif rng.random() < style.scoop_probability:
            ramp = min(2 * glide, max(1, length // 2))
            span = slice(onset, min(frames, onset + ramp))
            x = (index[span] - onset) / ramp
            contour[span] -= style.scoop_cents / 100 * (1 - _ease(x))
    for onset, end in zip(onsets, ends):  # after the glides, which would cut into it
        contour[onset:end] += _vibrato(end - onset, frame_period, style, rng)
    return contour + _drift(frames, frame_period, style.drift_cents, rng)


def _vibrato(frames: int, frame_period: float, style: Intonation, rng: np.random.Generator) -> np.ndarray:
    """Vibrato in semitones over one note: silent for `vibrato_delay`, then growing for 0.3 s,
    fading over the note's last 80 ms (so that it never jumps into the next note)."""
    t = np.arange(frames) * frame_period
    rate = style.vibrato_rate * (1 + 0.05 * rng.standard_normal())
    depth = style.vibrato_depth / 100 * (1 + 0.2 * rng.standard_normal())
    envelope = np.clip((t - style.vibrato_delay) / 0.3, 0.0, 1.0)
    envelope *= np.clip((frames * frame_period - t) / 0.08, 0.0, 1.0)
    phase = 2 * np.pi * rate * np.maximum(t - style.vibrato_delay, 0.0)
    return max(depth, 0.0) * envelope * np.sin(phase)


def _drift(frames: int, frame_period: float, cents: float, rng: np.random.Generator) -> np.ndarray:
    """Slow random detuning in semitones: a smooth curve through random points 0.4 s apart."""
    step = max(1, round(0.4 / frame_period))
    knots = np.arange(0, frames + step, step)
    values = rng.standard_normal(len(knots)) * cents / 100
    return np.interp(np.arange(frames), knots, values)
