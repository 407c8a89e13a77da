"""Reading audio: any format to (samples, channels) float32, whole or block by block.

Arrays are always shaped (samples, channels), float32, at the file's own rate and channel
count: nothing is downmixed, resampled or truncated on the way in. Files that libsndfile
reads (wav, flac, ogg, mp3, aiff, ...) are read directly; anything else (m4a, .stem.mp4,
opus, ...) is decoded by an `ffmpeg` subprocess to raw float32 at its native rate and
channel count (for multi-stream files such as .stem.mp4, the first audio stream: the
mixture). Long files are read through `open_audio`, a random-access `AudioSource`, so they
never need to fit in memory.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import struct
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Iterator, Optional, Union

import numpy as np

from cunet.audio.formats import BACKENDS, AudioError
from cunet.audio.tfio import TFIO_SUFFIXES, TfioFile, tfio_status
from cunet.errors import CunetError


class AudioSource:
    """Random access to a signal: `read(start, stop)` -> (stop - start, channels) float32.

    Samples outside [0, frames) read as zeros, so callers may ask for padded ranges.
    """

    rate: int
    channels: int
    frames: int

    def _read(self, start: int, stop: int) -> np.ndarray:  # 0 <= start <= stop <= frames
        raise NotImplementedError

    def read(self, start: int, stop: int) -> np.ndarray:
        """Samples [start, stop); safe to call from several threads (reads take turns)."""
        out = np.zeros((max(stop - start, 0), self.channels), np.float32)
        lo, hi = max(start, 0), min(stop, self.frames)
        if hi > lo:
            with self.__dict__.setdefault("_read_lock", threading.Lock()):
                out[lo - start : hi - start] = self._read(lo, hi)
        return out

    @property
    def seconds(self) -> float:
        return self.frames / self.rate


class ArraySource(AudioSource):
    """An in-memory (or memory-mapped) array (samples, channels) as an `AudioSource`."""

    def __init__(self, samples: np.ndarray, rate: int):
        self.samples = samples
        self.rate = int(rate)
        self.frames, self.channels = samples.shape

    def _read(self, start, stop):
        return np.asarray(self.samples[start:stop], np.float32)


class SoundFileSource(AudioSource):
    """A file libsndfile reads, read block by block with seeks."""

    def __init__(self, path: Path):
        import soundfile as sf

        self.path = path
        self.file = sf.SoundFile(str(path))
        self.rate, self.channels, self.frames = self.file.samplerate, self.file.channels, self.file.frames

    def _read(self, start, stop):
        self.file.seek(start)
        data = self.file.read(stop - start, dtype="float32", always_2d=True)
        if len(data) != stop - start:
            raise AudioError(f"{self.path}: truncated: could read only {start + len(data)} of {self.frames} samples")
        return data

    def close(self):
        self.file.close()


def _check_finite(x: np.ndarray, where) -> np.ndarray:
    if not np.all(np.isfinite(x)):
        raise AudioError(f"{where}: audio contains NaN or Inf samples")
    return x


def _check_riff_complete(path: Path) -> None:
    """Refuse a WAV file whose data chunk is shorter than its header declares (a cut download)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
            return
        size = path.stat().st_size
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                if head[:4] == b"RIFF" and chunk_size not in (0, 0xFFFFFFFF) and pos + 8 + chunk_size > size:
                    raise AudioError(
                        f"{path}: truncated WAV file: header declares {chunk_size} bytes of audio, "
                        f"file holds {size - pos - 8}"
                    )
                return
            pos += 8 + chunk_size + (chunk_size & 1)


def _ffprobe(path: Path) -> tuple[int, int]:
    if not shutil.which("ffprobe") or not shutil.which("ffmpeg"):
        raise AudioError(
            f"{path}: not a format libsndfile reads, and ffmpeg/ffprobe are not installed "
            "(install them, e.g. 'apt-get install ffmpeg')"
        )
    cmd = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=sample_rate,channels",
        "-of",
        "json",
        str(path),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    try:
        stream = json.loads(result.stdout)["streams"][0]
        rate, channels = int(stream["sample_rate"]), int(stream["channels"])
    except (ValueError, KeyError, IndexError, TypeError):
        detail = result.stderr.strip().splitlines()[-1:] or ["no audio stream"]
        raise AudioError(f"{path}: cannot read audio ({detail[0]})") from None
    if rate <= 0 or channels <= 0:
        raise AudioError(f"{path}: cannot read audio (rate {rate}, channels {channels})")
    return rate, channels


def _ffmpeg_decode(path: Path, raw_path: Path, channels: int) -> None:
    cmd = [
        "ffmpeg",
        "-v",
        "error",
        "-nostdin",
        "-y",
        "-i",
        str(path),
        "-map",
        "0:a:0",
        "-f",
        "f32le",
        "-acodec",
        "pcm_f32le",
        "-ac",
        str(channels),
        str(raw_path),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        detail = result.stderr.strip().splitlines()[-1:] or [f"ffmpeg exit code {result.returncode}"]
        raise AudioError(f"{path}: cannot decode audio ({detail[0]})")


def probe_audio(path: Union[str, Path]) -> tuple[int, int, Optional[int]]:
    """(rate, channels, frames or None if unknown without decoding); raises `AudioError`."""
    import soundfile as sf

    path = Path(path)
    if not path.exists():
        raise AudioError(f"input not found: {path}")
    if not path.is_file():
        raise AudioError(f"not a file: {path}")
    try:
        info = sf.info(str(path))
    except Exception:
        rate, channels = _ffprobe(path)
        return rate, channels, None
    _check_riff_complete(path)
    if info.frames == 0:
        raise AudioError(f"{path}: the file holds 0 samples")
    return info.samplerate, info.channels, info.frames


def resolve_backend(name: str) -> str:
    """The decoding backend to use for `name` ("auto", "soundfile" or "tfio"); resampling is soxr for all.

    "auto" is soundfile (+ ffmpeg): measured faster than tensorflow-io for every format
    (docs/BENCHMARKS.md, "Audio decoding"). "tfio" falls back to soundfile with a one-line
    notice on stderr when tensorflow-io is missing or its ops do not load.
    """
    if name not in BACKENDS:
        raise CunetError(f"unknown audio backend {name!r} (choose from {', '.join(BACKENDS)})")
    if name != "tfio":
        return "soundfile"
    usable, reason = tfio_status()
    if not usable:
        import sys

        print(f"cunet: notice: audio backend tfio unavailable ({reason}); using soundfile", file=sys.stderr)
        return "soundfile"
    return "tfio"


class TfioSource(AudioSource):
    """A wav, flac, mp3 or ogg file decoded in-graph by tensorflow-io, read block by block."""

    def __init__(self, path: Path):
        try:
            self.file = TfioFile(path)
        except Exception as exc:  # tensorflow-io raises framework errors for unreadable files
            raise AudioError(f"{path}: cannot decode audio with tensorflow-io ({str(exc).strip()[:160]})") from None
        self.rate, self.channels, self.frames = self.file.rate, self.file.channels, self.file.frames

    def _read(self, start, stop):
        return self.file.read(start, stop)


@contextlib.contextmanager
def open_audio(
    path: Union[str, Path], backend: str = "soundfile", probe: Optional[tuple] = None
) -> Iterator[AudioSource]:
    """Open any audio file as an `AudioSource` (closed on exit). Raises `AudioError`.

    libsndfile formats are read in place; others are decoded by ffmpeg to a temporary raw
    float32 file that is memory-mapped, so memory stays bounded for hours of audio. With
    `backend="tfio"` (a resolved backend, see `resolve_backend`), wav, flac, mp3 and ogg
    are decoded by tensorflow-io instead. `probe`: what `probe_audio(path)` returned, when
    the caller has it (the file is then not probed again).
    """
    path = Path(path)
    rate, channels, frames = probe_audio(path) if probe is None else probe
    if backend == "tfio" and path.suffix.lower() in TFIO_SUFFIXES:
        yield TfioSource(path)
        return
    if frames is not None:
        try:
            source = SoundFileSource(path)
        except Exception as exc:
            raise AudioError(f"{path}: cannot read audio ({str(exc).strip() or type(exc).__name__})") from None
        try:
            yield source
        finally:
            source.close()
        return
    with tempfile.TemporaryDirectory(prefix="cunet-decode-") as tmp:
        raw = Path(tmp) / "decoded.f32"
        _ffmpeg_decode(path, raw, channels)
        count = raw.stat().st_size // (4 * channels)
        if count == 0:
            raise AudioError(f"{path}: the file holds 0 samples")
        samples = np.memmap(raw, dtype="<f4", mode="r", shape=(count, channels))
        try:
            yield ArraySource(samples, rate)
        finally:
            del samples


def read_audio(path: Union[str, Path], backend: str = "soundfile") -> tuple[np.ndarray, int]:
    """Read a whole file: (samples (samples, channels) float32, rate). Raises `AudioError`."""
    with open_audio(path, backend) as source:
        x = source.read(0, source.frames)
    return _check_finite(x, path), source.rate


def check_audio_array(audio, sample_rate) -> np.ndarray:
    """Validate an in-memory signal: returns (samples, channels) float32 or raises `AudioError`."""
    x = np.asarray(audio)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise AudioError(f"audio must be shaped (samples, channels), got shape {x.shape}")
    if x.shape[1] == 0 or x.shape[1] > 64:
        raise AudioError(f"audio must be shaped (samples, channels) with 1 to 64 channels, got {x.shape}")
    if x.shape[0] == 0:
        raise AudioError("audio holds 0 samples")
    if not isinstance(sample_rate, (int, np.integer)) or isinstance(sample_rate, bool) or sample_rate <= 0:
        if not (isinstance(sample_rate, float) and sample_rate.is_integer() and sample_rate > 0):
            raise AudioError(f"sample_rate must be a positive integer, got {sample_rate!r}")
    x = x.astype(np.float32, copy=False)
    return _check_finite(x, "input")
