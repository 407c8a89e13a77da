"""The linear mix: parts panned into stems, stem width and balance, one common gain per track.

Everything here is linear and per stem, so the mixture is exactly the sum of the written stems:
no limiter on the sum; clipping is avoided by one gain shared by all stems of a track."""

from __future__ import annotations

import numpy as np

# Stem levels (dB RMS over the stem's sounding stretches) relative to the vocals, as in real mixes.
STEM_LEVELS_DB = {"vocals": 0.0, "drums": -1.5, "bass": -4.0, "other": -3.0}
PEAK = 0.89  # -1 dBFS: the mixture's peak after the common gain
TARGET_RMS_DB = -16.0  # the mixture's level before the peak bound


def random_pan(rng: np.random.Generator, stem: str, role: str) -> float:
    """Pan in [-1, 1]: lead vocals, bass and drums near the centre, accompaniment spread."""
    if stem in ("bass", "drums") or role == "lead":
        return round(float(rng.uniform(-0.08, 0.08)), 3)
    return round(float(rng.uniform(-0.7, 0.7)), 3)


def pan(mono_or_stereo: np.ndarray, position: float, gain: float) -> np.ndarray:
    """Constant-power pan of (samples, 2) (or (samples,)) audio to `position` with linear `gain`."""
    angle = (position + 1) * np.pi / 4
    left, right = np.cos(angle) * np.sqrt(2), np.sin(angle) * np.sqrt(2)
    if mono_or_stereo.ndim == 1:
        return np.stack([mono_or_stereo * left * gain, mono_or_stereo * right * gain], axis=1).astype(np.float32)
    weights = np.array([left * gain, right * gain], np.float32)
    return mono_or_stereo * weights


def widen(stereo: np.ndarray, width: float) -> np.ndarray:
    """Scale the side signal of (samples, 2) audio by `width` (0 mono, 1 unchanged, >1 wider)."""
    mid = 0.5 * (stereo[:, 0] + stereo[:, 1])
    side = 0.5 * (stereo[:, 0] - stereo[:, 1]) * width
    return np.stack([mid + side, mid - side], axis=1).astype(np.float32)


def active_rms(audio: np.ndarray, rate: int) -> float:
    """RMS over the 100 ms frames that sound (within 40 dB of the loudest); 0 for silence."""
    hop = rate // 10
    frames = len(audio) // hop
    if frames == 0:
        return 0.0
    power = np.mean(np.square(audio[: frames * hop].reshape(frames, -1), dtype=np.float64), axis=1)
    if power.max() <= 0:
        return 0.0
    loud = power[power > power.max() * 1e-4]
    return float(np.sqrt(loud.mean()))


def balance(stems: dict[str, np.ndarray], rate: int, offsets_db: dict[str, float]) -> dict[str, float]:
    """Linear gain per stem bringing its sounding RMS to `STEM_LEVELS_DB` + `offsets_db`."""
    gains = {}
    for name, audio in stems.items():
        rms = active_rms(audio, rate)
        level = STEM_LEVELS_DB[name] + offsets_db.get(name, 0.0) + TARGET_RMS_DB
        gains[name] = float(10 ** (level / 20) / rms) if rms > 0 else 0.0
    return gains


def common_gain(stems: dict[str, np.ndarray]) -> float:
    """The gain that brings the mixture (the sum of `stems`) to a peak of at most `PEAK`."""
    mixture = sum(stems.values())
    peak = float(np.max(np.abs(mixture))) if len(mixture) else 0.0
    return PEAK / peak if peak > PEAK else 1.0


def fade_out(length: int, rate: int, seconds: float = 2.0) -> np.ndarray:
    """(length, 1) gain envelope: 1, then a raised-cosine fade over the last `seconds`."""
    envelope = np.ones((length, 1), np.float32)
    fade = min(length, int(seconds * rate))
    if fade:
        envelope[-fade:, 0] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade, dtype=np.float32))
    return envelope
