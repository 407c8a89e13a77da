"""The prepared stem cache: MUSDB18 stems at the model's rate, one `.npy` per track.

`prepare_cache` reads a MUSDB18 root (`.stem.mp4`) or a MUSDB18-HQ root (wav folders)
through `cunet.musdb`, downmixes every stem to mono, resamples it to
`config.audio.sample_rate` with soxr (high quality) and writes, in the cache folder:

- `<track>.npy`: float32, shape (samples, n_instruments), columns in `config.instruments`
  order, memory-mappable (`np.load(..., mmap_mode="r")`);
- `manifest.json`: format, rate, stem order, config hash, and per track its name, file,
  length in samples and split ("train" or "valid").

Every file is written atomically and the manifest is rewritten after each track, so an
interrupted run resumes where it stopped and a second run does no work. With `jobs` > 1,
worker processes decode, resample and write the tracks, and this process alone writes the
manifest as they finish; the cache is the same as with one job. `open_cache` checks the
manifest against a config before the data pipeline reads anything.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from cunet.audio.resample import resample
from cunet.config import Config, config_hash
from cunet.errors import CunetError
from cunet.fileio import atomic_path, atomic_write_text
from cunet.musdb import STEMS, discover_tracks, read_stems, validation_tracks
from cunet.parallel import parallel_map

MANIFEST = "manifest.json"
FORMAT = "cunet-stem-cache/1"


class CacheError(CunetError):
    """A MUSDB18 root or a stem cache cannot be used."""


@dataclass(frozen=True)
class CachedTrack:
    """One cached track: `file` holds (length, n_instruments) float32 samples."""

    name: str
    file: str
    length: int
    split: str


def track_array(stems: dict, rate: int, config: Config) -> np.ndarray:
    """Downmix and resample stems to (samples, n_instruments) float32 in config order."""
    columns = []
    for name in config.instruments:
        mono = np.asarray(stems[name], dtype=np.float32).mean(axis=1)
        if rate != config.audio.sample_rate:
            mono = resample(mono, rate, config.audio.sample_rate, quality="VHQ")
        columns.append(np.asarray(mono, dtype=np.float32))
    length = min(len(c) for c in columns)
    return np.stack([c[:length] for c in columns], axis=1)


# ---------------------------------------------------------------------------------------
# Writing the cache


def track_file_name(name: str) -> str:
    """A file name for a track: unsafe characters replaced, a short hash keeps it unique."""
    safe = re.sub(r"[^A-Za-z0-9 ._&'()-]", "_", name).strip(" .") or "track"
    return f"{safe[:80]}-{hashlib.sha1(name.encode()).hexdigest()[:8]}.npy"


def assign_splits(names: list[str], valid_fraction: float) -> dict:
    """name -> "train" | "valid": MUSDB18's official split, else a deterministic fraction."""
    official = set(validation_tracks())
    if official & set(names):
        return {n: "valid" if n in official else "train" for n in names}
    count = 0
    if valid_fraction > 0 and len(names) >= 2:
        count = min(len(names) - 1, max(1, round(len(names) * valid_fraction)))
    held_out = set(sorted(names, key=lambda n: hashlib.sha1(n.encode()).hexdigest())[:count])
    return {n: "valid" if n in held_out else "train" for n in names}


def _manifest(config: Config, tracks: dict, splits: dict, complete: bool, expected: int) -> dict:
    return {
        "format": FORMAT,
        "config_hash": config_hash(config),
        "sample_rate": config.audio.sample_rate,
        "instruments": list(config.instruments),
        "complete": complete,
        "expected_tracks": expected,
        "split_rule": "musdb18-official"
        if set(validation_tracks()) & set(splits)
        else f"valid_fraction {config.data.valid_fraction}",
        "tracks": [
            {"name": name, "file": entry["file"], "length": entry["length"], "split": splits.get(name, "train")}
            for name, entry in sorted(tracks.items())
        ],
    }


def _read_manifest(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CacheError(f"{path}: unreadable cache manifest ({exc}); re-run `cunet prepare`") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CacheError(f"{path}: not a cunet stem cache manifest; re-run `cunet prepare`")
    return data


def _cached_tracks(out_dir: Path, config: Config) -> dict:
    """{name: {"file", "length"}} of the tracks already cached for `config` in `out_dir`."""
    manifest_path = out_dir / MANIFEST
    if not manifest_path.exists():
        return {}
    old = _read_manifest(manifest_path)
    if old.get("config_hash") != config_hash(config):
        raise CacheError(
            f"{out_dir} holds a cache for config hash {old.get('config_hash')} "
            f"({old.get('sample_rate')} Hz, {old.get('instruments')}), this config has "
            f"{config_hash(config)}: choose another --out folder"
        )
    return {
        t["name"]: {"file": t["file"], "length": t["length"]} for t in old["tracks"] if (out_dir / t["file"]).is_file()
    }


def cache_track(task: tuple) -> tuple:
    """Decode, downmix and resample one track and write its `.npy` atomically.

    task: (`MusdbTrack`, `Config`, out folder, wav audio backend). Returns (name,
    {"file", "length"}) for the manifest. A module-level function: `--jobs` workers run it.
    """
    source, config, out_dir, audio_backend = task
    stems, rate = read_stems(source, audio_backend if source.is_wav else "soundfile")
    array = track_array(stems, rate, config)
    file = track_file_name(source.name)
    try:
        with atomic_path(Path(out_dir) / file) as tmp:
            np.save(tmp, array)
    except OSError as exc:
        raise CacheError(f"cannot write the cache in {out_dir}: {exc.strerror or exc}") from None
    return source.name, {"file": file, "length": int(array.shape[0])}


def _cached_in_order(tasks: list, jobs: int):
    """(name, entry) of `cache_track` for every task: here for one job, else in `jobs`
    worker processes, as they finish (the manifest sorts tracks, so its order stays fixed)."""
    if jobs <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield cache_track(task)
        return
    with contextlib.closing(parallel_map(cache_track, tasks, jobs)) as results:
        for _, result in results:
            yield result


def _write_manifest(path: Path, manifest: dict) -> None:
    try:
        atomic_write_text(path, json.dumps(manifest, indent=1))
    except OSError as exc:
        raise CacheError(f"cannot write the cache in {path.parent}: {exc.strerror or exc}") from None


def prepare_cache(
    musdb_root: Union[str, Path],
    config: Config,
    out_dir: Union[str, Path],
    is_wav: bool = False,
    subset: str = "train",
    progress: bool = True,
    limit: Optional[int] = None,
    on_track: Optional[Callable[[str, bool], None]] = None,
    audio_backend: str = "soundfile",
    jobs: int = 1,
) -> "Cache":
    """Cache the `subset` tracks of a MUSDB18 root for `config`; returns the opened cache.

    Tracks already in the cache are skipped. `limit` caches only the first tracks (by
    name). `on_track(name, written)` is called for every track (for tests and reports):
    first the cached ones, then each written one as it is done. `audio_backend`
    ("soundfile" or "tfio") decodes MUSDB18-HQ wav stems. `jobs` > 1 decodes and resamples
    tracks in that many worker processes (`cunet.parallel`); the cache is the same.
    """
    unknown = [name for name in config.instruments if name not in STEMS]
    if unknown:
        raise CacheError(f"config instruments {unknown} are not MUSDB18 stems ({', '.join(STEMS)})")
    sources = discover_tracks(musdb_root, subset, is_wav, limit)
    out_dir = Path(out_dir).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise CacheError(f"--out {out_dir} is a file, not a folder")
    manifest_path = out_dir / MANIFEST
    cached = _cached_tracks(out_dir, config)
    names = sorted({s.name for s in sources} | set(cached))
    splits = assign_splits(names, config.data.valid_fraction)
    expected = len(names)

    from tqdm import tqdm

    tasks = [(s, config, out_dir, audio_backend) for s in sources if s.name not in cached]
    bar = tqdm(
        total=len(sources), initial=len(sources) - len(tasks), desc="caching tracks", unit="track", disable=not progress
    )
    for source in sources:
        if source.name in cached and on_track:
            on_track(source.name, False)
    try:
        for name, entry in _cached_in_order(tasks, jobs):
            cached[name] = entry
            _write_manifest(manifest_path, _manifest(config, cached, splits, False, expected))
            bar.set_postfix_str(name[:40])
            bar.update()
            if on_track:
                on_track(name, True)
    finally:
        bar.close()
    _write_manifest(manifest_path, _manifest(config, cached, splits, True, expected))
    return open_cache(out_dir, config)


# ---------------------------------------------------------------------------------------
# Reading the cache


class Cache:
    """An opened, validated stem cache.

    Attributes:
        root: the cache folder.
        sample_rate: the rate of every cached sample.
        instruments: stem (column) order, equal to the config's.
        tracks: list of `CachedTrack`.
    """

    def __init__(self, root: Path, manifest: dict):
        self.root = root
        self.manifest = manifest
        self.sample_rate = int(manifest["sample_rate"])
        self.instruments = list(manifest["instruments"])
        self.tracks = [CachedTrack(t["name"], t["file"], int(t["length"]), t["split"]) for t in manifest["tracks"]]

    def split(self, name: str) -> list[CachedTrack]:
        """The tracks of split "train" or "valid", sorted by name."""
        return [t for t in self.tracks if t.split == name]

    def read_track(self, track: CachedTrack, mmap: bool = True) -> np.ndarray:
        """(length, n_instruments) float32 samples, memory-mapped by default."""
        path = self.root / track.file
        try:
            array = np.load(path, mmap_mode="r" if mmap else None)
        except (OSError, ValueError) as exc:
            raise CacheError(f"{path}: unreadable cached track ({exc}); re-run `cunet prepare`") from None
        if array.shape != (track.length, len(self.instruments)) or array.dtype != np.float32:
            raise CacheError(f"{path}: shape {array.shape} does not match the manifest; re-run `cunet prepare`")
        return array

    def nbytes(self, split: Optional[str] = None) -> int:
        tracks = self.tracks if split is None else self.split(split)
        return sum(t.length for t in tracks) * len(self.instruments) * 4


def open_cache(cache_dir: Union[str, Path], config: Config) -> Cache:
    """Open the cache in `cache_dir` for `config`; raises `CacheError` if it cannot serve it."""
    root = Path(cache_dir).expanduser()
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise CacheError(
            f"no stem cache in {root} (missing {MANIFEST}): run "
            f"`cunet prepare --musdb-root DIR --config {config.name} --out {root}` first"
        )
    manifest = _read_manifest(manifest_path)
    expected = config_hash(config)
    if manifest.get("config_hash") != expected:
        raise CacheError(
            f"the cache in {root} was prepared for config hash {manifest.get('config_hash')} "
            f"({manifest.get('sample_rate')} Hz, {manifest.get('instruments')}) but config "
            f"'{config.name}' has hash {expected}: re-run `cunet prepare` with this config "
            "and another --out folder"
        )
    if not manifest.get("complete"):
        raise CacheError(
            f"the cache in {root} is incomplete ({len(manifest['tracks'])} of "
            f"{manifest.get('expected_tracks')} tracks): re-run `cunet prepare` to finish it"
        )
    if not manifest["tracks"]:
        raise CacheError(f"the cache in {root} holds no tracks: re-run `cunet prepare`")
    return Cache(root, manifest)
