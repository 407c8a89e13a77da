"""Spoken syllables for the sung voice: espeak-ng speech analysed into WORLD vocoder parameters."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

import numpy as np

from cunet.errors import CunetError

ESPEAK = "espeak-ng"
WORLD_RATE = 16000
FRAME_PERIOD_MS = 5.0
HOP = int(WORLD_RATE * FRAME_PERIOD_MS / 1000)  # samples per WORLD frame
FFT_SIZE = 512  # spectral envelope resolution: 257 bins of 31 Hz
_BREAK_MS = 250  # the pause espeak-ng puts between syllables of one call
_MIN_BREAK_FRAMES = 20  # a silence this long (100 ms) is a break, not a stop consonant's closure
_SILENCE_DB = -50.0
_HEAD_FRAMES, _TAIL_FRAMES = 4, 8  # a vowel's first 20 ms and last 40 ms keep their length


@dataclass(frozen=True)
class Syllable:
    """One spoken syllable in WORLD parameters at `WORLD_RATE`, one row per 5 ms frame.

    `log_sp`: (frames, bins) log power spectral envelope, the vowel at power 1; `ap`: (frames,
    bins) aperiodicity in [0, 1]; frames `voiced_start:voiced_end` are the voiced core (vowel
    and voiced consonants) that carries the sung pitch, `sustain_start:sustain_end` the loud
    part of it (the vowel) that a long note stretches."""

    log_sp: np.ndarray
    ap: np.ndarray
    voiced_start: int
    voiced_end: int
    sustain_start: int
    sustain_end: int

    @property
    def frames(self) -> int:
        return self.log_sp.shape[0]


def require_espeak() -> str:
    """The espeak-ng executable, or a one-line CunetError saying how to install it."""
    path = shutil.which(ESPEAK)
    if path is None:
        raise CunetError(f"{ESPEAK} is not installed (needed for the sung voice): sudo apt-get install espeak-ng")
    return path


def import_pyworld():
    try:
        import pyworld
    except ImportError as error:
        raise CunetError(f"the sung voice needs pyworld ({error}): pip install 'cunet[synth]'") from None
    return pyworld


def speak(texts: Sequence[str], voice: str, speed: int) -> list[np.ndarray]:
    """Each of `texts` spoken by espeak-ng voice `voice` (e.g. "en-us+f2") at `speed` words per
    minute: float64 mono at WORLD_RATE, one array per text, leading/trailing silence trimmed.
    One espeak-ng call speaks them all, separated by pauses; if the pauses cannot be found
    reliably each text is spoken by a call of its own."""
    if not texts:
        return []
    ssml = f'<break time="{_BREAK_MS}ms"/>'.join(escape(text) for text in texts)
    audio = _espeak(f"<speak>{ssml}</speak>", voice, speed)
    pieces = _split_at_breaks(audio, len(texts))
    if pieces is None:
        pieces = [_trim(_espeak(f"<speak>{escape(text)}</speak>", voice, speed)) for text in texts]
    return pieces


def _espeak(ssml: str, voice: str, speed: int) -> np.ndarray:
    import soxr

    command = [require_espeak(), "-v", voice, "-s", str(speed), "-m", "--stdout", ssml]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0 or result.stdout[:4] != b"RIFF" or len(result.stdout) < 44:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise CunetError(f"{ESPEAK} -v {voice} failed: {message[0] if message else 'no audio'}")
    wav = result.stdout
    rate = int.from_bytes(wav[24:28], "little")
    samples = np.frombuffer(wav[44 : 44 + (len(wav) - 44) // 2 * 2], dtype="<i2")
    audio = samples.astype(np.float64) / 32768.0
    return soxr.resample(audio, rate, WORLD_RATE) if rate != WORLD_RATE else audio


def _frame_levels(audio: np.ndarray) -> np.ndarray:
    """Level of each HOP-long frame in dB relative to the loudest frame: (frames,)."""
    frames = len(audio) // HOP
    if frames == 0:
        return np.zeros(0)
    power = np.mean(audio[: frames * HOP].reshape(frames, HOP) ** 2, axis=1)
    return 10 * np.log10(power / max(power.max(), 1e-20) + 1e-12)


def _sounding_runs(levels: np.ndarray, min_gap: int) -> list[tuple[int, int]]:
    """(start, end) frame ranges of sound separated by silences of at least `min_gap` frames."""
    loud = np.flatnonzero(levels > _SILENCE_DB)
    if loud.size == 0:
        return []
    gaps = np.flatnonzero(np.diff(loud) > min_gap)
    starts = np.concatenate([[loud[0]], loud[gaps + 1]])
    ends = np.concatenate([loud[gaps], [loud[-1]]]) + 1
    return list(zip(starts.tolist(), ends.tolist()))


def _split_at_breaks(audio: np.ndarray, count: int) -> list[np.ndarray] | None:
    runs = _sounding_runs(_frame_levels(audio), _MIN_BREAK_FRAMES)
    if len(runs) != count:
        return None
    margin = 2
    return [audio[max(0, s - margin) * HOP : (e + margin) * HOP] for s, e in runs]


def _trim(audio: np.ndarray) -> np.ndarray:
    runs = _sounding_runs(_frame_levels(audio), len(audio))
    if not runs:
        return audio
    return audio[runs[0][0] * HOP : runs[-1][1] * HOP]


def analyse(audio: np.ndarray) -> Syllable:
    """WORLD analysis (DIO + StoneMask, CheapTrick, D4C) of one spoken syllable at WORLD_RATE."""
    pyworld = import_pyworld()
    audio = np.ascontiguousarray(audio, dtype=np.float64)
    f0, times = pyworld.dio(audio, WORLD_RATE, f0_floor=60.0, f0_ceil=600.0, frame_period=FRAME_PERIOD_MS)
    f0 = pyworld.stonemask(audio, f0, times, WORLD_RATE)
    sp = pyworld.cheaptrick(audio, f0, times, WORLD_RATE, fft_size=FFT_SIZE)
    ap = pyworld.d4c(audio, f0, times, WORLD_RATE, fft_size=FFT_SIZE)
    voiced = np.flatnonzero(f0 > 0)
    if voiced.size:
        start, end = int(voiced[0]), int(voiced[-1]) + 1
    else:  # a whispered syllable: sing its loudest part
        loudest = int(np.argmax(sp.sum(axis=1)))
        start, end = max(0, loudest - 4), min(len(f0), loudest + 5)
    log_sp = np.log(np.maximum(sp, 1e-16))
    power = np.log(np.maximum(sp.sum(axis=1), 1e-30))
    low, high = _vowel(power, start, end)
    log_sp += _sustain(power, start, end, low, high)[:, None]
    return Syllable(log_sp, ap, voiced_start=start, voiced_end=end, sustain_start=low, sustain_end=high)


def _vowel(power: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """The vowel of a voiced core `start:end`: its frames within 8 dB of the core's full level
    (consonants are quieter), less the first 20 ms and last 40 ms of its natural transitions."""
    level = np.percentile(power[start:end], 90)
    loud = np.flatnonzero(power[start:end] >= level - 0.8 * np.log(10)) + start
    low, high = int(loud[0]), int(loud[-1]) + 1
    room = (high - low - 1) // 3
    return low + min(_HEAD_FRAMES, room), high - min(_TAIL_FRAMES, room)


def _sustain(power: np.ndarray, start: int, end: int, low: int, high: int) -> np.ndarray:
    """Log gain per frame that holds the vowel `low:high` at its full level (a sung vowel does
    not fade as a spoken one does) and brings that level to 1; the gain eases in over the
    core's start and out over its end. (frames,) log powers -> (frames,)."""
    level = np.percentile(power[start:end], 90)
    gain = np.full(len(power), -level)
    gain[low:high] += np.clip(level - power[low:high], -np.log(10), np.log(100))
    gain[start:low] += np.linspace(0, gain[low] + level, low - start, endpoint=False)
    gain[high:end] += np.linspace(gain[high - 1] + level, 0, end - high, endpoint=False)
    return gain


def stretch_positions(syllable: Syllable, frames: int) -> np.ndarray:
    """Source frame position (float) for each of `frames` output frames: consonants and the
    vowel's transitions keep their natural length, the vowel's steady part stretches (or
    everything shrinks evenly when the note is too short for the natural length)."""
    low, high, total = syllable.sustain_start, syllable.sustain_end, syllable.frames
    source = np.array([0, low, high, total], dtype=np.float64)
    natural = total - (high - low)
    if frames > natural + 1:
        target = np.array([0, low, frames - (total - high), frames], np.float64)
    else:
        target = source * (frames / total)
    positions = np.interp(np.arange(frames) + 0.5, target, source) - 0.5
    return np.clip(positions, 0, total - 1)
