"""What the audio package reads and writes: file suffixes, decoding backends, output formats.

Light on purpose (no numpy): the command line takes its choices from these constants when
it builds `cunet --help`.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from cunet.errors import CunetError

AUDIO_SUFFIXES = (
    ".wav",
    ".flac",
    ".ogg",
    ".oga",
    ".mp3",
    ".m4a",
    ".mp4",
    ".aac",
    ".opus",
    ".aiff",
    ".aif",
    ".wma",
    ".webm",
    ".mka",
)
# Output format -> (libsndfile format, subtype): wav as 32-bit float (16 or 24-bit PCM by
# `WAV_BITS`), flac as 24-bit PCM, mp3 by ffmpeg's LAME at a constant bitrate (`cunet.audio.mp3`).
WRITE_FORMATS = {"wav": ("WAV", "FLOAT"), "flac": ("FLAC", "PCM_24"), "mp3": ("MP3", "MPEG_LAYER_III")}
WAV_BITS = {16: "PCM_16", 24: "PCM_24", 32: "FLOAT"}
MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
MP3_KBPS = (32, 320)  # the bitrates --bitrate takes; MPEG-2/2.5 rates (8-24 kHz) cap them at 160 and 64
DEFAULT_MP3_KBPS = 320
# Decoders: "auto" resolves to "soundfile" (libsndfile + ffmpeg); "tfio" is tensorflow-io.
BACKENDS = ("auto", "soundfile", "tfio")


class AudioError(CunetError):
    """An audio file is missing, unreadable, truncated, empty or holds NaN/Inf samples."""


def is_audio_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES


def input_name(path: str | Path) -> str:
    """The name outputs of `path` are filed under: `song.mp3` -> `song`, `x.stem.mp4` -> `x`."""
    name = Path(path).name
    for suffix in (".stem.mp4",) + AUDIO_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def output_format(fmt: str, wav_bits: int = 32) -> tuple[str, str]:
    """(libsndfile format, subtype) of an output format name; raises `CunetError` for others."""
    try:
        container, subtype = WRITE_FORMATS[fmt]
    except KeyError:
        raise CunetError(f"unknown output format {fmt!r} (choose from {', '.join(WRITE_FORMATS)})") from None
    if wav_bits not in WAV_BITS:
        raise CunetError(f"wav bits must be one of {', '.join(map(str, WAV_BITS))}, got {wav_bits!r}")
    return container, WAV_BITS[wav_bits] if fmt == "wav" else subtype


def mp3_kbps(bitrate: None | int | str) -> int:
    """A bitrate as "320k", "320" or 320 -> kbps in `MP3_KBPS`; None: `DEFAULT_MP3_KBPS`."""
    if bitrate is None:
        return DEFAULT_MP3_KBPS
    text = str(bitrate).strip().lower()
    digits = text.removesuffix("k")
    if not digits.isdigit() or not MP3_KBPS[0] <= int(digits) <= MP3_KBPS[1]:
        raise CunetError(f"bitrate must be {MP3_KBPS[0]}k to {MP3_KBPS[1]}k (e.g. 320k), got {bitrate!r}")
    return int(digits)


def check_writable(fmt: str, path, rate: int, channels: int) -> None:
    """Whether `fmt` can hold audio of `rate` and `channels` (mp3: 1 or 2 channels at an
    MPEG rate, and ffmpeg installed); raises `AudioError` naming the problem and what to use instead."""
    if fmt != "mp3":
        return
    if channels > 2:
        raise AudioError(f"{path}: mp3 holds 1 or 2 channels, the input has {channels} (use --format wav or flac)")
    if rate not in MP3_RATES:
        raise AudioError(
            f"{path}: mp3 holds rates of {', '.join(map(str, MP3_RATES))} Hz, the input is "
            f"{rate} Hz (use --format wav or flac)"
        )
    if shutil.which("ffmpeg") is None:
        raise AudioError(
            "mp3 output needs ffmpeg (install it, e.g. 'apt-get install ffmpeg'), or use --format wav or flac"
        )


@dataclass(frozen=True)
class OutputFormat:
    """How stems are written: `name` (wav, flac or mp3), `wav_bits` (wav only: 16, 24, or 32
    for 32-bit float) and `bitrate` (mp3 only, e.g. "320k"); checked on construction."""

    name: str = "wav"
    wav_bits: int = 32
    bitrate: str | None = None

    def __post_init__(self):
        output_format(self.name, self.wav_bits)
        if self.name != "wav" and self.wav_bits != 32:
            raise CunetError(f"--wav-bits applies to wav output only, not {self.name}")
        if self.name == "mp3":
            mp3_kbps(self.bitrate)
        elif self.bitrate is not None:
            raise CunetError(f"--bitrate applies to mp3 output only, not {self.name}")
