"""What the audio package reads and writes: file suffixes, decoding backends, output formats.

Light on purpose (no numpy): the command line takes its choices from these constants when
it builds `cunet --help`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from cunet.errors import CunetError

AUDIO_SUFFIXES = (
    ".wav", ".flac", ".ogg", ".oga", ".mp3", ".m4a", ".mp4", ".aac", ".opus", ".aiff",
    ".aif", ".wma", ".webm", ".mka",
)
# Output format -> (libsndfile format, subtype): wav as 32-bit float, flac as 24-bit PCM.
WRITE_FORMATS = {"wav": ("WAV", "FLOAT"), "flac": ("FLAC", "PCM_24")}
# Decoders: "auto" resolves to "soundfile" (libsndfile + ffmpeg); "tfio" is tensorflow-io.
BACKENDS = ("auto", "soundfile", "tfio")


class AudioError(CunetError):
    """An audio file is missing, unreadable, truncated, empty or holds NaN/Inf samples."""


def is_audio_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES


def input_name(path: Union[str, Path]) -> str:
    """The name outputs of `path` are filed under: `song.mp3` -> `song`, `x.stem.mp4` -> `x`."""
    name = Path(path).name
    for suffix in (".stem.mp4",) + AUDIO_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return Path(name).stem or name


def output_format(fmt: str) -> tuple[str, str]:
    """(libsndfile format, subtype) of an output format name; raises `CunetError` for others."""
    try:
        return WRITE_FORMATS[fmt]
    except KeyError:
        raise CunetError(f"unknown output format {fmt!r} (choose from {', '.join(WRITE_FORMATS)})") from None
