"""The linear mix: parts panned into stems, stem width and balance, one common gain per track.

Audio is (channels, samples) float32 throughout. Everything here is linear and per stem, so the
mixture is exactly the sum of the written stems: no limiter on the sum; clipping is avoided by
one gain shared by all stems of a track."""

from __future__ import annotations

import numpy as np

# Stem levels (dB RMS over the stem's sounding stretches) relative to the vocals, as in real mixes,
# before each track's own offsets: the vocals from far below the band to just above it, the other
# stems spread around their level (measured vocals-to-accompaniment: about -3 to -12 dB, as in
# musdb-mini; the earlier narrow balance gave -0.2 to -5.5 dB). Drums-to-rest: median -5.6 dB in
# musdb-mini's training songs, -3.1 dB in renders with drums at -1.5 here, hence -4.
STEM_LEVELS_DB = {"vocals": 0.0, "drums": -4.0, "bass": -3.0, "other": -1.0}
VOCAL_OFFSET_DB = (-8.0, 2.0)
STEM_SPREAD_DB = 3.0
PEAK = 0.89  # -1 dBFS: the mixture's peak after the common gain
TARGET_RMS_DB = -16.0  # the vocals' level before the peak bound
STAGE_RMS_DB = -20.0  # every stem's level going into its effect chain


def random_pan(rng: np.random.Generator, stem: str, role: str) -> float:
    """Pan in [-1, 1]: lead vocals, bass and drums near the centre, accompaniment spread."""
    if stem in ("bass", "drums") or role == "lead":
        return round(float(rng.uniform(-0.08, 0.08)), 3)
    return round(float(rng.uniform(-0.7, 0.7)), 3)


def pan_into(stem: np.ndarray, audio: np.ndarray, position: float, gain: float) -> None:
    """Add (1 or 2, samples) `audio`, panned to `position` (constant power) at linear `gain`, to
    the (2, samples) `stem` in place."""
    angle = (position + 1) * np.pi / 4
    weights = (np.cos(angle) * np.sqrt(2) * gain, np.sin(angle) * np.sqrt(2) * gain)
    scratch = np.empty(stem.shape[1], np.float32)
    for channel in range(2):
        np.multiply(audio[min(channel, len(audio) - 1)], np.float32(weights[channel]), out=scratch)
        stem[channel] += scratch


def widen(stereo: np.ndarray, width: float) -> None:
    """Scale the side signal of (2, samples) audio by `width` in place (0 mono, 1 unchanged)."""
    mid = 0.5 * (stereo[0] + stereo[1])
    side = stereo[0] - mid
    side *= np.float32(width)
    np.add(mid, side, out=stereo[0])
    np.subtract(mid, side, out=stereo[1])


def active_rms(audio: np.ndarray, rate: int) -> float:
    """RMS over the 100 ms frames that sound (within 40 dB of the loudest); 0 for silence."""
    hop = rate // 10
    frames = audio.shape[1] // hop
    if frames == 0:
        return 0.0
    blocks = audio[:, : frames * hop].reshape(audio.shape[0], frames, hop)
    power = np.einsum("cfh,cfh->f", blocks, blocks, dtype=np.float64) / (hop * audio.shape[0])
    if power.max() <= 0:
        return 0.0
    loud = power[power > power.max() * 1e-4]
    return float(np.sqrt(loud.mean()))


def stage_gain(audio: np.ndarray, rate: int) -> float:
    """The gain bringing a dry stem's sounding RMS to `STAGE_RMS_DB`, where the effect chains'
    thresholds are set (FluidSynth's level varies with the SoundFont and the number of parts)."""
    rms = active_rms(audio, rate)
    return float(10 ** (STAGE_RMS_DB / 20) / rms) if rms > 0 else 0.0


def random_offsets(rng: np.random.Generator) -> dict[str, float]:
    """A track's level offsets (dB) on `STEM_LEVELS_DB`: vocals uniform in `VOCAL_OFFSET_DB`, the
    other stems normal with `STEM_SPREAD_DB` deviation, clipped at two deviations."""
    offsets = {"vocals": float(rng.uniform(*VOCAL_OFFSET_DB))}
    for stem in ("drums", "bass", "other"):
        offsets[stem] = float(np.clip(rng.normal(0.0, STEM_SPREAD_DB), -2 * STEM_SPREAD_DB, 2 * STEM_SPREAD_DB))
    return {stem: round(value, 2) for stem, value in offsets.items()}


def balance(stems: dict[str, np.ndarray], rate: int, offsets_db: dict[str, float]) -> dict[str, float]:
    """Linear gain per stem bringing its sounding RMS to `STEM_LEVELS_DB` + `offsets_db`."""
    gains = {}
    for name, audio in stems.items():
        rms = active_rms(audio, rate)
        level = STEM_LEVELS_DB[name] + offsets_db.get(name, 0.0) + TARGET_RMS_DB
        gains[name] = float(10 ** (level / 20) / rms) if rms > 0 else 0.0
    return gains


def mixture_peak(stems: dict[str, np.ndarray], block: int = 1 << 18) -> float:
    """The peak of the mixture (the sum of the (2, samples) `stems`), summed block by block."""
    arrays = list(stems.values())
    peak = 0.0
    for start in range(0, arrays[0].shape[1], block):
        mixture = arrays[0][:, start : start + block].copy()
        for audio in arrays[1:]:
            mixture += audio[:, start : start + block]
        peak = max(peak, float(np.max(np.abs(mixture))))
    return peak


def fade_out(length: int, rate: int, seconds: float = 2.0) -> np.ndarray:
    """The last `seconds` of a raised-cosine fade-out: (fade samples,) gains, to apply to the end."""
    fade = min(length, int(seconds * rate))
    return (0.5 + 0.5 * np.cos(np.linspace(0, np.pi, fade))).astype(np.float32)
