"""The training and validation input pipelines: `tf.data` graphs of TensorFlow ops only.

The pipelines move waveforms: the magnitude STFTs are computed in the training step, on the
device that trains (`cunet.training.step`), with the `cunet.audio.spectral` front end separation
uses. Elements (B = batch size, L = `chunk_samples(config)`, whose STFT has exactly
`config.patch.frames` frames, S = number of instruments):

- C-U-Net (`config.model.type == "cunet"`): `((mixture, condition), target)` with mixture
  and target (B, L) float32 waveforms at the model rate and condition (B, S) float32, in
  the order of the training model's inputs "mixture" and "condition";
- dedicated U-Net (`"unet"`): `(mixture, target)`, target `config.model.target`.

How a batch is made (all vectorized over the batch, no per-example map):

1. `sample_draws` draws, from one stateless seed, per example and stem a track, an offset
   (a multiple of `block`, the gcd of hop and n_fft), a linear gain and the condition;
   see the module `cunet.training.conditions` and the `config.data` fields for the augmentations.
2. `render` gathers the (B, S, L) stem chunks from the `StemBank` (the split held once in
   host memory, in `config.data.storage`) and forms mixture = sum_i g_i s_i and target = sum_i c_i g_i s_i (the STFT is linear, so
   the target's magnitude is that of the conditioned sum of stems). `render` is compiled
   with XLA, which fuses the gather and the mixing.

The training set is infinite; a `seed` makes it reproducible. The validation set is
finite and deterministic: `config.data.valid_offsets_per_track` evenly spaced offsets per
validation track, every condition of the configured families, no augmentation.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Union

import numpy as np
import tensorflow as tf

from cunet.audio import spectral
from cunet.config import Config
from cunet.training.cache import Cache, CacheError, open_cache
from cunet.training.conditions import condition_table
from cunet.training.stembank import StemBank


def chunk_samples(config: Config) -> int:
    """Samples in one training chunk: its STFT has exactly `config.patch.frames` frames."""
    return spectral.patch_samples(config.audio, config.patch.frames)


def offset_block(config: Config) -> int:
    """Offsets are multiples of this (gcd of hop and n_fft), so chunks are whole blocks."""
    return math.gcd(config.audio.hop_length, config.audio.n_fft)


def load_bank(cache: Cache, split: str, config: Config) -> StemBank:
    """The tracks of `split` that hold at least one chunk, in a `StemBank` of
    `config.data.storage`."""
    length = chunk_samples(config)
    tracks = [t for t in cache.split(split) if t.length >= length]
    if not tracks:
        raise CacheError(
            f"the cache in {cache.root} has no {split} track of at least {length} samples "
            f"({length / config.audio.sample_rate:.1f} s)"
        )
    return StemBank(
        [t.name for t in tracks],
        [t.length for t in tracks],
        len(cache.instruments),
        lambda i: cache.read_track(tracks[i], mmap=False),  # one track at a time, then freed
        offset_block(config),
        config.data.storage,
    )


def _target_index(config: Config) -> Optional[int]:
    return None if config.conditioned else config.instruments.index(config.model.target)


def _conditions(config: Config):
    """(vectors (K, S), probabilities (K,)) of the conditions a model is trained on."""
    n = len(config.instruments)
    if not config.conditioned:
        return np.eye(n, dtype=np.float32)[[_target_index(config)]], np.ones(1)
    return condition_table(config.data.conditions, n)


def sample_draws(seed, batch_size: int, bank: StemBank, config: Config) -> dict:
    """Random draws for one batch from a stateless `seed` (2,) int.

    Per example: a condition (a family of `config.data.conditions` uniformly, then a member
    uniformly; a dedicated U-Net always gets its `model.target`), a track and offset; with
    probability `data.progressive_probability` (C-U-Net only) the condition is scaled by
    p ~ U[0, 1]; with probability `data.remix_probability` every non-target stem (condition
    0) takes its own random track (possibly the same) and offset; every stem gets a gain
    uniform in `data.gain_db_range` dB.

    Returns a dict of (B, S) tensors: "track" and "offset" (int32, offset in samples within
    the track, a multiple of `bank.block`) of every stem, "gain" (float32, linear) and
    "condition" (float32, already scaled by the progressive factor p).
    """
    data = config.data
    vectors, probabilities = _conditions(config)
    n_stems = bank.n_stems
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), num=9)
    shape = (batch_size, n_stems)

    def uniform(i, shape_):
        return tf.random.stateless_uniform(shape_, seeds[i])

    row = tf.random.stateless_categorical(
        tf.math.log(tf.constant(probabilities[None, :], tf.float32)), batch_size, seeds[0], dtype=tf.int32
    )[0]
    base = tf.gather(tf.constant(vectors), row)
    if config.conditioned:
        progressive = uniform(1, (batch_size,)) < data.progressive_probability
        scale = tf.where(progressive, uniform(2, (batch_size,)), 1.0)
    else:
        scale = tf.ones((batch_size,))  # a dedicated U-Net has no condition to scale
    condition = base * scale[:, None]

    remix = uniform(3, (batch_size,)) < data.remix_probability
    replaced = tf.logical_and(remix[:, None], tf.equal(base, 0.0))
    main_track = tf.random.stateless_uniform((batch_size,), seeds[4], 0, bank.n_tracks, tf.int32)
    other_track = tf.random.stateless_uniform(shape, seeds[5], 0, bank.n_tracks, tf.int32)
    track = tf.where(replaced, other_track, main_track[:, None])
    position = tf.where(replaced, uniform(6, shape), uniform(7, (batch_size,))[:, None])
    chunk = chunk_samples(config)
    last = (tf.gather(bank.track_lengths, track) - chunk) // bank.block  # last offset, in blocks
    offset = tf.minimum(tf.cast(position * tf.cast(last + 1, tf.float32), tf.int32), last) * bank.block

    low, high = data.gain_db_range
    gain_db = low + (high - low) * uniform(8, shape)
    gain = tf.pow(10.0, gain_db / 20.0)
    return {"track": track, "offset": offset, "gain": gain, "condition": condition}


def render(bank: StemBank, draws: dict, config: Config, handle=None):
    """Mixture and target waveforms of explicit draws (see `sample_draws`); `handle`: the
    bank's variable, opened by the caller (see `StemBank.gather`).

    Returns (mixture, target), each (B, L) float32.
    """
    chunk = chunk_samples(config)
    n_chunk_blocks = chunk // bank.block
    stem_rows = tf.range(bank.n_stems, dtype=tf.int32) * bank.n_blocks
    first = tf.gather(bank.track_starts, draws["track"]) + draws["offset"] // bank.block
    rows = (stem_rows + first)[..., None] + tf.range(n_chunk_blocks, dtype=tf.int32)
    stems = tf.reshape(bank.gather(rows, handle), (-1, bank.n_stems, chunk))  # (B, S, L)
    gain = tf.cast(draws["gain"], tf.float32)
    mixture = tf.einsum("bs,bsl->bl", gain, stems)
    target = tf.einsum("bs,bsl->bl", gain * tf.cast(draws["condition"], tf.float32), stems)
    return mixture, target


def _element(config: Config, mixture, condition, target):
    if config.conditioned:
        return (mixture, condition), target
    return mixture, target


def _compiled_render(bank: StemBank, config: Config, jit: bool):
    """`render` for one bank, compiled with XLA when `jit` (gather and mixing fuse)."""
    compiled = tf.function(lambda handle, draws: render(bank, draws, config, handle), jit_compile=jit or None)
    return lambda draws: compiled(bank.handle(), draws)


def _load_bank(config: Config, cache_dir, split: str) -> StemBank:
    cache = cache_dir if isinstance(cache_dir, Cache) else open_cache(cache_dir, config)
    return load_bank(cache, split, config)


def training_dataset(
    config: Config,
    cache_dir: Union[str, Path, Cache],
    batch_size: Optional[int] = None,
    seed: Optional[int] = None,
    bank: Optional[StemBank] = None,
    jit: bool = True,
) -> tf.data.Dataset:
    """The infinite training set of the cache's "train" tracks, batched (static batch size).

    `seed` (default `config.training.seed`) fixes every draw: two datasets with one seed
    yield the same batches in the same order. The cache's train split is held in host memory
    once (`StemBank`): 4 bytes per sample per instrument, 2 with 16-bit `data.storage`. `bank` reuses one already loaded;
    `jit=False` runs `render` without XLA.
    """
    batch_size = int(batch_size or config.training.batch_size)
    seed = config.training.seed if seed is None else int(seed)
    bank = bank or _load_bank(config, cache_dir, "train")
    render_batch = _compiled_render(bank, config, jit)

    def make_batch(index):
        draws = sample_draws(tf.stack([tf.constant(seed, tf.int64), index]), batch_size, bank, config)
        mixture, target = render_batch(draws)
        return _element(config, mixture, draws["condition"], target)

    dataset = tf.data.Dataset.range(2**62).map(make_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def validation_draws(config: Config, bank: StemBank) -> dict:
    """The fixed validation examples: every track x offset x condition, no augmentation.

    Returns a dict of NumPy arrays as `sample_draws` does, with N = tracks x offsets x
    conditions rows.
    """
    vectors, _ = _conditions(config)
    chunk = chunk_samples(config)
    count = max(1, config.data.valid_offsets_per_track)
    tracks, offsets, conditions = [], [], []
    lengths = bank.track_lengths.numpy()
    for index, length in enumerate(lengths):
        last = (int(length) - chunk) // bank.block
        for k in np.linspace(0, last, count).round().astype(int):
            for vector in vectors:
                tracks.append(index)
                offsets.append(int(k) * bank.block)
                conditions.append(vector)
    n, s = len(tracks), bank.n_stems
    return {
        "track": np.repeat(np.array(tracks, np.int32)[:, None], s, axis=1),
        "offset": np.repeat(np.array(offsets, np.int32)[:, None], s, axis=1),
        "gain": np.ones((n, s), np.float32),
        "condition": np.array(conditions, np.float32).reshape(n, s),
    }


def validation_dataset(
    config: Config,
    cache_dir: Union[str, Path, Cache],
    batch_size: Optional[int] = None,
    bank: Optional[StemBank] = None,
    jit: bool = True,
) -> tf.data.Dataset:
    """The finite, deterministic validation set of the cache's "valid" tracks.

    Same element structure as `training_dataset`; the last batch may be smaller.
    """
    batch_size = int(batch_size or config.training.batch_size)
    bank = bank or _load_bank(config, cache_dir, "valid")
    draws = validation_draws(config, bank)
    render_batch = _compiled_render(bank, config, jit)

    def make_batch(batch):
        mixture, target = render_batch(batch)
        return _element(config, mixture, batch["condition"], target)

    dataset = tf.data.Dataset.from_tensor_slices(draws).batch(batch_size)
    return dataset.map(make_batch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
