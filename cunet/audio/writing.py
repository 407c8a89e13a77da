"""Writing audio: (samples, channels) float32 to wav, flac or mp3, block by block, atomically."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cunet.audio.formats import AudioError, mp3_kbps, output_format
from cunet.audio.mp3 import Mp3Encoder
from cunet.fileio import atomic_path


class AudioWriter:
    """Write (samples, channels) blocks to `path` atomically: the file appears only on `close()`.

    wav is written as 32-bit float (no clipping) or, with `wav_bits` 16 or 24, PCM; flac as
    24-bit PCM; mp3 at `bitrate` (e.g. "320k") by ffmpeg (`cunet.audio.mp3`). PCM and mp3
    are clipped to [-1, 1]. Use as a context manager; on an exception the partial file is
    removed. `replace` False: an existing `path` is never replaced (`FileExistsError` on
    close). Write errors (disk full, ...) raise `AudioError` naming the path and the cause.
    """

    def __init__(
        self,
        path: str | Path,
        rate: int,
        channels: int,
        fmt: str = "wav",
        replace: bool = True,
        wav_bits: int = 32,
        bitrate: None | int | str = None,
    ):
        self.path = Path(path)
        self.format, self.subtype = output_format(fmt, wav_bits)
        self.rate, self.channels = int(rate), int(channels)
        self.replace = replace
        self.kbps = mp3_kbps(bitrate) if fmt == "mp3" else None

    def __enter__(self):
        import soundfile as sf

        self._atomic = atomic_path(self.path, suffix=self.path.suffix, replace=self.replace)
        tmp = self._atomic.__enter__()
        try:
            if self.kbps is not None:
                self.file = Mp3Encoder(tmp, self.rate, self.channels, self.kbps)
            else:
                self.file = sf.SoundFile(str(tmp), "w", self.rate, self.channels, self.subtype, format=self.format)
        except (AudioError, RuntimeError, OSError, ValueError) as exc:  # LibsndfileError is a RuntimeError
            self._atomic.__exit__(type(exc), exc, exc.__traceback__)
            raise _write_error(self.path, exc) from None
        return self

    def write(self, block: np.ndarray) -> None:
        block = np.asarray(block, np.float32)
        if self.subtype != "FLOAT":
            block = np.clip(block, -1.0, 1.0)
        try:
            self.file.write(_interleaved(block))
        except (RuntimeError, OSError) as exc:  # soundfile.LibsndfileError is a RuntimeError
            raise _write_error(self.path, exc) from None

    def __exit__(self, *exc):
        try:
            if exc[0] is not None and isinstance(self.file, Mp3Encoder):
                self.file.abort()  # not worth finishing: the file is removed
            else:
                self.file.close()
        except (RuntimeError, OSError) as error:
            self._atomic.__exit__(type(error), error, error.__traceback__)
            if exc[0] is None:
                raise _write_error(self.path, error) from None
            return False
        return self._atomic.__exit__(*exc)


def _write_error(path: Path, exc: BaseException) -> AudioError:
    """One line naming `path` and the cause. libsndfile reports every failed write() as
    "System error." (and ffmpeg's message varies): a full disk is recognised by the free
    space left."""
    cause = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    try:
        stat = os.statvfs(path.parent)
        if stat.f_bavail * stat.f_frsize < (1 << 20):
            cause = "no space left on device"
    except OSError:
        pass
    return AudioError(f"cannot write {path}: {cause}")


def _interleaved(block: np.ndarray) -> np.ndarray:
    """(samples, channels) in C order. Copied channel by channel when it is a transposed view
    (separation yields (channels, samples).T): about 6x faster than numpy's generic copy."""
    if block.ndim != 2 or block.flags.c_contiguous:
        return block
    out = np.empty(block.shape, np.float32)
    for c in range(block.shape[1]):
        out[:, c] = block[:, c]
    return out


def write_audio(path: str | Path, samples, rate: int, fmt: str | None = None) -> Path:
    """Write (samples, channels) or (samples,) to `path` (wav, flac or mp3, by `fmt` or suffix), atomically."""
    path = Path(path)
    x = np.asarray(samples, np.float32)
    if x.ndim == 1:
        x = x[:, None]
    with AudioWriter(path, rate, x.shape[1], fmt or path.suffix.lstrip(".").lower() or "wav") as w:
        w.write(x)
    return path
