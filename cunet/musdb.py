"""MUSDB18 on disk: track discovery, decoding, the official validation split, the stem order.

Both releases' layouts: MUSDB18 (`<subset>/<track>.stem.mp4`: stream 0 the mixture, then one
AAC stream per stem, decoded through stempeg and ffmpeg) and MUSDB18-HQ
(`<subset>/<track>/{mixture,drums,bass,other,vocals}.wav`). `cunet prepare` caches stems
with `read_stems`; `cunet evaluate` scores against `read_track`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Union

import numpy as np

from cunet.audio.reading import read_audio
from cunet.errors import CunetError

# MUSDB18's stems in its own order (musdb's), each with its stream in a .stem.mp4 (0 is the
# mixture). "other" is the paper's "rest".
STEM_STREAMS = {"vocals": 4, "drums": 1, "bass": 2, "other": 3}
STEMS = tuple(STEM_STREAMS)
STEM_SUFFIX = ".stem.mp4"
SUBSETS = ("train", "test")


class MusdbError(CunetError):
    """A MUSDB18 root, or a track in it, cannot be read."""


@dataclass(frozen=True)
class MusdbTrack:
    """One MUSDB18 track on disk: a `.stem.mp4` file or a folder of wav stems."""

    name: str
    path: Path
    is_wav: bool


@dataclass
class TrackAudio:
    """One track in memory: `mixture` and every stem in `sources` ({name: array}), each
    (samples, channels) float32 at `rate`."""

    name: str
    rate: int
    mixture: np.ndarray
    sources: dict


def validation_tracks() -> list[str]:
    """MUSDB18's official validation tracks (part of its train subset), as shipped by musdb."""
    import musdb
    import yaml

    setup = Path(musdb.__path__[0]) / "configs" / "mus.yaml"
    return list(yaml.safe_load(setup.read_text())["validation_tracks"])


def discover_tracks(
    root: Union[str, Path], subset: str = "train", is_wav: bool = False, limit: Optional[int] = None
) -> list[MusdbTrack]:
    """The tracks of `root/subset` sorted by name (the first `limit`), layout checked.

    Raises `MusdbError` for a missing root or subset folder, no track of the asked layout
    (naming the other layout when that is what the folder holds) or a missing wav stem.
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise MusdbError(f"MUSDB18 root not found: {root}")
    if subset not in SUBSETS:
        raise MusdbError(f"subset must be train or test, got {subset!r}")
    folder = root / subset
    if not folder.is_dir():
        raise MusdbError(
            f"{root} is not a MUSDB18 root: it has no '{subset}' folder "
            f"(expected {subset}/<track>{'/' if is_wav else STEM_SUFFIX})"
        )
    if limit is not None and limit < 1:
        raise MusdbError(f"the track limit must be at least 1, got {limit}")
    stem_files = sorted(p for p in folder.iterdir() if p.name.endswith(STEM_SUFFIX) and p.is_file())
    wav_folders = sorted(p for p in folder.iterdir() if p.is_dir() and any(p.glob("*.wav")))
    if is_wav:
        if not wav_folders:
            hint = " (it holds .stem.mp4 files: drop --is-wav)" if stem_files else ""
            raise MusdbError(f"no MUSDB18-HQ track folders (with .wav stems) in {folder}{hint}")
        tracks = [MusdbTrack(p.name, p, True) for p in wav_folders]
    else:
        if not stem_files:
            hint = " (it holds wav track folders: add --is-wav)" if wav_folders else ""
            raise MusdbError(f"no MUSDB18 {STEM_SUFFIX} files in {folder}{hint}")
        tracks = [MusdbTrack(p.name[: -len(STEM_SUFFIX)], p, False) for p in stem_files]
    tracks = sorted(tracks, key=lambda t: t.name)[:limit]
    for track in tracks if is_wav else ():
        missing = [s for s in STEMS if not (track.path / f"{s}.wav").is_file()]
        if missing:
            raise MusdbError(f"track '{track.name}' has no {', '.join(s + '.wav' for s in missing)}")
    return tracks


def _reason(exc: Exception) -> str:
    """The last line of a decoder's message (stempeg and ffmpeg raise many types)."""
    text = str(exc).strip()
    return text.splitlines()[-1] if text else type(exc).__name__


def read_stems(track: MusdbTrack, backend: str = "soundfile") -> tuple[dict, int]:
    """A track's four stems at full precision: ({name: (samples, channels) float32}, rate).

    The cache's reader. `backend` ("soundfile" or "tfio", see
    `cunet.audio.reading.resolve_backend`) decodes wav stems; `.stem.mp4` streams are decoded
    to 32-bit float by ffmpeg.
    """
    try:
        if track.is_wav:
            return _read_wav_stems(track, backend)
        import stempeg

        info = stempeg.Info(str(track.path))
        streams = info.nb_audio_streams
        if streams == 1 + len(STEMS):  # the stems only: one ffmpeg decode fewer than with the mixture
            audio, rate = stempeg.read_stems(
                str(track.path),
                stem_id=[STEM_STREAMS[name] for name in STEMS],
                info=info,
                dtype=np.float32,
                always_3d=True,
            )
    except MusdbError:
        raise
    except Exception as exc:  # soundfile, stempeg, ffmpeg (AudioError) raise many types for bad files
        raise MusdbError(f"cannot read track '{track.name}' ({track.path}): {_reason(exc)}") from None
    if streams != 1 + len(STEMS):
        order = ", ".join(["mixture", *sorted(STEMS, key=STEM_STREAMS.get)])
        raise MusdbError(
            f"track '{track.name}': {streams} audio streams, a MUSDB18 {STEM_SUFFIX} has {1 + len(STEMS)} ({order})"
        )
    return dict(zip(STEMS, audio)), int(rate)


def _read_wav_stems(track: MusdbTrack, backend: str) -> tuple[dict, int]:
    stems, rates = {}, set()
    for name in STEMS:
        audio, rate = read_audio(track.path / f"{name}.wav", backend)
        stems[name] = audio
        rates.add(rate)
    if len(rates) != 1:
        raise MusdbError(f"track '{track.name}': its stems have different sample rates {sorted(rates)}")
    lengths = {len(a) for a in stems.values()}
    if len(lengths) != 1:
        raise MusdbError(f"track '{track.name}': its stems have different lengths {sorted(lengths)}")
    return stems, rates.pop()


def read_track(track: MusdbTrack) -> TrackAudio:
    """The mixture and the four stems, (samples, channels) float32, as the musdb package
    decodes them (ffmpeg to 16-bit PCM, the mixture's rate), which the published museval
    scores used: evaluation scores stay comparable to theirs.

    Wav tracks need `mixture.wav` beside the stems.
    """
    import stempeg

    if track.is_wav:
        files = {"mixture": track.path / "mixture.wav", **{s: track.path / f"{s}.wav" for s in STEMS}}
        streams = dict.fromkeys(files, 0)
    else:
        files = dict.fromkeys(["mixture", *STEMS], track.path)
        streams = {"mixture": 0, **STEM_STREAMS}
    try:
        info = stempeg.Info(str(files["mixture"]))
        decoded = {
            name: _two_d(
                stempeg.read_stems(
                    filename=str(path), stem_id=streams[name], start=0, info=info, ffmpeg_format="s16le"
                )[0]
            )
            for name, path in files.items()
        }
        rate = int(info.rate(0))
    except Exception as exc:  # stempeg and ffmpeg raise many types for missing or bad files
        raise MusdbError(f"cannot read track {track.name!r}: {_reason(exc)}") from None
    mixture = decoded.pop("mixture")
    return TrackAudio(track.name, rate, mixture, decoded)


def track_length(track: MusdbTrack) -> tuple[int, int, int]:
    """(samples, rate, channels) of a track's mixture, read from its header (no decoding)."""
    try:
        if track.is_wav:
            import soundfile

            info = soundfile.info(str(track.path / "mixture.wav"))
            return int(info.frames), int(info.samplerate), int(info.channels)
        import stempeg

        info = stempeg.Info(str(track.path))
        return int(info.samples(0)), int(info.rate(0)), int(info.channels(0))
    except Exception as exc:  # soundfile, stempeg and ffprobe raise many types for bad files
        raise MusdbError(f"cannot read track {track.name!r}: {_reason(exc)}") from None


def _two_d(x) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x[:, None] if x.ndim == 1 else x  # mono comes as (samples,)
