"""Training batches drawn with NumPy: `cunet.training.data` for hosts without TensorFlow.

The procedure is that of the tf.data pipeline, step for step (see `cunet.training.data`):
`sample_draws` draws per example and stem a track, an offset (a multiple of the bank's block),
a gain and the condition with the same distributions, from a NumPy generator instead of
TensorFlow's stateless seeds (so the random numbers differ, the batches' distribution does
not); `render` turns explicit draws into exactly the mixture and target `data.render` makes
of them. `HostBank` holds a cache split in host memory in the `StemBank` layout and storage.

Elements have the structure of `data.training_dataset`'s: C-U-Net `((mixture, condition),
target)`, dedicated U-Net `(mixture, target)`; mixture and target (B, L) float32, condition
(B, S) float32, L = `chunk_samples(config)`.
"""

from __future__ import annotations

import math
from typing import Iterator, Optional

import numpy as np

from cunet.audio.stft import patch_samples
from cunet.config import Config
from cunet.training.cache import Cache, CacheError
from cunet.training.conditions import condition_table

INT16_SCALE = 32768.0  # as `cunet.training.stembank`


class HostBank:
    """The stems of one cache split as (S, samples) arrays, tracks zero-padded to whole
    blocks and concatenated as in `StemBank`, stored in `config.data.storage`.

    Attributes:
        n_tracks, n_stems, block: as `StemBank`.
        track_starts: (n_tracks,) int64, first sample of each track.
        track_lengths: (n_tracks,) int32, length of each track in samples.
    """

    def __init__(self, arrays, names, block: int, storage: str = "float32"):
        if not arrays:
            raise CacheError("no tracks to draw examples from")
        if storage not in ("float32", "float16", "int16"):
            raise CacheError(f"unknown stem storage {storage!r}")
        self.names, self.block, self.storage = list(names), int(block), storage
        self.n_stems = int(arrays[0].shape[1])
        lengths = np.array([len(a) for a in arrays], np.int64)
        padded = -(-lengths // block) * block
        self.track_starts = np.concatenate([[0], np.cumsum(padded)[:-1]]).astype(np.int64)
        self.track_lengths = lengths.astype(np.int32)
        self.stems = np.zeros((self.n_stems, int(padded.sum())), _storage_dtype(storage))
        for start, array in zip(self.track_starts, arrays):
            self.stems[:, start : start + len(array)] = _encode(np.asarray(array, np.float32).T, storage)

    @classmethod
    def from_cache(cls, cache: Cache, split: str, config: Config) -> "HostBank":
        """The tracks of `split` that hold at least one chunk (as `data.load_bank`)."""
        length = chunk_samples(config)
        tracks = [t for t in cache.split(split) if t.length >= length]
        if not tracks:
            raise CacheError(f"the cache in {cache.root} has no {split} track of at least {length} samples")
        return cls(
            [cache.read_track(t, mmap=False) for t in tracks],
            [t.name for t in tracks],
            offset_block(config),
            config.data.storage,
        )

    @property
    def n_tracks(self) -> int:
        return len(self.names)

    def chunks(self, track: np.ndarray, offset: np.ndarray, length: int) -> np.ndarray:
        """(B, S, length) float32 stem chunks: stem s of example b from track[b, s] at offset[b, s]."""
        starts = self.track_starts[track] + offset
        out = np.empty(track.shape + (length,), np.float32)
        for b, s in np.ndindex(*track.shape):
            out[b, s] = self.stems[s, starts[b, s] : starts[b, s] + length]
        return _decode(out, self.storage) if self.storage == "int16" else out


def _storage_dtype(storage: str):
    return {"float32": np.float32, "float16": np.float16, "int16": np.int16}[storage]


def _encode(samples: np.ndarray, storage: str) -> np.ndarray:
    if storage == "int16":
        return np.round(np.clip(samples, -1.0, 1.0 - 1.0 / INT16_SCALE) * INT16_SCALE).astype(np.int16)
    return samples.astype(_storage_dtype(storage))


def _decode(values: np.ndarray, storage: str) -> np.ndarray:
    return values.astype(np.float32) * np.float32(1.0 / INT16_SCALE)


def chunk_samples(config: Config) -> int:
    """`data.chunk_samples`: samples whose STFT has exactly `config.patch.frames` frames."""
    return patch_samples(config.audio, config.patch.frames)


def offset_block(config: Config) -> int:
    """`data.offset_block`: the gcd of hop and n_fft."""
    return math.gcd(config.audio.hop_length, config.audio.n_fft)


def _conditions(config: Config):
    n = len(config.instruments)
    if not config.conditioned:
        return np.eye(n, dtype=np.float32)[[config.instruments.index(config.model.target)]], np.ones(1)
    return condition_table(config.data.conditions, n)


def sample_draws(rng: np.random.Generator, batch_size: int, bank: HostBank, config: Config) -> dict:
    """`data.sample_draws` with a NumPy generator: the same procedure and distributions.

    Returns a dict of (B, S) arrays: "track", "offset" (int32), "gain", "condition" (float32).
    """
    data = config.data
    vectors, probabilities = _conditions(config)
    shape = (batch_size, bank.n_stems)

    def uniform(shape_):
        return rng.random(shape_, dtype=np.float32)

    row = rng.choice(len(vectors), size=batch_size, p=np.asarray(probabilities, np.float64) / np.sum(probabilities))
    base = vectors[row].astype(np.float32)
    if config.conditioned:
        progressive = uniform(batch_size) < data.progressive_probability
        scale = np.where(progressive, uniform(batch_size), np.float32(1.0))
    else:
        scale = np.ones(batch_size, np.float32)
    condition = (base * scale[:, None]).astype(np.float32)

    remix = uniform(batch_size) < data.remix_probability
    replaced = remix[:, None] & (base == 0.0)
    main_track = rng.integers(0, bank.n_tracks, batch_size, dtype=np.int32)
    other_track = rng.integers(0, bank.n_tracks, shape, dtype=np.int32)
    track = np.where(replaced, other_track, main_track[:, None])
    position = np.where(replaced, uniform(shape), uniform(batch_size)[:, None])
    last = (bank.track_lengths[track] - chunk_samples(config)) // bank.block
    offset = np.minimum((position * (last + 1).astype(np.float32)).astype(np.int32), last) * bank.block

    low, high = data.gain_db_range
    gain = np.power(np.float32(10.0), (low + (high - low) * uniform(shape)) / np.float32(20.0))
    return {
        "track": track.astype(np.int32),
        "offset": offset.astype(np.int32),
        "gain": gain.astype(np.float32),
        "condition": condition,
    }


def render(bank: HostBank, draws: dict, config: Config) -> tuple[np.ndarray, np.ndarray]:
    """`data.render` in NumPy: (mixture, target), each (B, L) float32, of explicit draws."""
    stems = bank.chunks(np.asarray(draws["track"]), np.asarray(draws["offset"]), chunk_samples(config))
    gain = np.asarray(draws["gain"], np.float32)
    mixture = np.einsum("bs,bsl->bl", gain, stems)
    target = np.einsum("bs,bsl->bl", gain * np.asarray(draws["condition"], np.float32), stems)
    return mixture, target


def element(config: Config, mixture, condition, target):
    """A batch in the structure of `data.training_dataset`'s elements."""
    return ((mixture, condition), target) if config.conditioned else (mixture, target)


def training_batches(
    config: Config, bank: HostBank, batch_size: Optional[int] = None, seed: Optional[int] = None
) -> Iterator[tuple]:
    """An endless, seeded stream of training batches (`data.training_dataset`'s structure)."""
    batch_size = int(batch_size or config.training.batch_size)
    rng = np.random.default_rng(config.training.seed if seed is None else int(seed))
    while True:
        draws = sample_draws(rng, batch_size, bank, config)
        mixture, target = render(bank, draws, config)
        yield element(config, mixture, draws["condition"], target)


def validation_draws(config: Config, bank: HostBank) -> dict:
    """`data.validation_draws`: every track x offset x condition, no augmentation."""
    vectors, _ = _conditions(config)
    count = max(1, config.data.valid_offsets_per_track)
    rows = []
    for index, length in enumerate(bank.track_lengths):
        last = (int(length) - chunk_samples(config)) // bank.block
        for k in np.linspace(0, last, count).round().astype(int):
            rows += [(index, int(k) * bank.block, vector) for vector in vectors]
    s = bank.n_stems
    return {
        "track": np.repeat(np.array([r[0] for r in rows], np.int32)[:, None], s, axis=1),
        "offset": np.repeat(np.array([r[1] for r in rows], np.int32)[:, None], s, axis=1),
        "gain": np.ones((len(rows), s), np.float32),
        "condition": np.array([r[2] for r in rows], np.float32).reshape(len(rows), s),
    }


def validation_batches(config: Config, bank: HostBank, batch_size: Optional[int] = None) -> list:
    """The fixed validation batches (`data.validation_dataset`'s; the last may be smaller)."""
    batch_size = int(batch_size or config.training.batch_size)
    draws = validation_draws(config, bank)
    out = []
    for i in range(0, len(draws["track"]), batch_size):
        part = {k: v[i : i + batch_size] for k, v in draws.items()}
        mixture, target = render(bank, part, config)
        out.append(element(config, mixture, part["condition"], target))
    return out
