"""The stems of one cache split, held once in host memory, for the pipeline's batched gather.

The bank is a TensorFlow resource variable on the CPU (on a machine with a GPU the stems stay
in host memory too), filled track by track: no full-size NumPy buffer, no constant, no second
copy. It is registered under a unique name, and the pipeline's functions open it by that name
(`StemBank.handle`) instead of capturing it, so no graph, dataset or function proto ever holds
the data: serializing the input pipeline stays small whatever the size of MUSDB18, and
protobuf's 2 GB limit never applies. The variable lives until `close()` or the end of the
process: a pipeline's background threads may still read it after its dataset is gone, so it
is never freed implicitly.

Storage (`config.data.storage`):
- "float32": the cached samples as they are, 4 bytes per sample per instrument;
- "float16": 2 bytes, relative error at most 2^-11 (about -66 dB);
- "int16": 2 bytes, samples clipped to [-1, 1) and quantized in steps of 2^-15.
Gathered rows are converted to float32 once per draw (`StemBank.gather`).
"""

from __future__ import annotations

import uuid
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from cunet.errors import CunetError

STORAGE_TYPES = {"float32": tf.float32, "float16": tf.float16, "int16": tf.int16}
INT16_SCALE = 32768.0


class StemBank:
    """The stems of several tracks as rows of `block` samples, ready for a batched gather.

    Args:
        names: the track names, in index order.
        lengths: the length of each track in samples.
        n_stems: stems (instruments) per track, S.
        read: `read(i)` -> track i's (lengths[i], S) float32 samples; called once per track,
            in order, so only one track is ever held outside the bank.
        block: samples per row (tracks are zero-padded to whole rows).
        storage: "float32", "float16" or "int16".

    Attributes:
        n_blocks: rows per stem; the bank holds (S * n_blocks, block) samples: stem s of all
            tracks, concatenated, is rows [s * n_blocks, (s + 1) * n_blocks).
        track_starts: (n_tracks,) int32 tensor, first row of each track.
        track_lengths: (n_tracks,) int32 tensor, length of each track in samples.
    """

    def __init__(
        self,
        names: Sequence[str],
        lengths: Sequence[int],
        n_stems: int,
        read: Callable[[int], np.ndarray],
        block: int,
        storage: str = "float32",
    ):
        if not names:
            raise CunetError("no tracks to draw examples from")
        if storage not in STORAGE_TYPES:
            raise CunetError(f"unknown stem storage {storage!r} (choose from {', '.join(STORAGE_TYPES)})")
        lengths = np.asarray(lengths, np.int64)
        rows = -(-lengths // block)
        starts = np.concatenate([[0], np.cumsum(rows)[:-1]])
        self.names = list(names)
        self.n_stems = int(n_stems)
        self.block = int(block)
        self.n_blocks = int(rows.sum())
        self.storage = storage
        self.dtype = STORAGE_TYPES[storage]
        self.name = f"cunet_stem_bank_{uuid.uuid4().hex}"
        with tf.device("/CPU:0"):
            self._handle = self.handle()
            _fill_zeros(self._handle, (self.n_stems * self.n_blocks, self.block), self.dtype)
            for i, start in enumerate(starts):
                self._write(read(i), int(start))
            self.track_starts = tf.constant(starts.astype(np.int32))
            self.track_lengths = tf.constant(lengths.astype(np.int32))

    @classmethod
    def from_arrays(
        cls, arrays: Sequence[np.ndarray], names: Sequence[str], block: int, storage: str = "float32"
    ) -> "StemBank":
        """A bank of in-memory (samples, S) arrays."""
        return cls(
            names, [len(a) for a in arrays], arrays[0].shape[1] if arrays else 0, lambda i: arrays[i], block, storage
        )

    def handle(self):
        """The bank's variable, opened by name (inside a function: no capture of the data)."""
        return tf.raw_ops.VarHandleOp(dtype=self.dtype, shape=[None, self.block], shared_name=self.name, container="")

    def _write(self, track: np.ndarray, start: int) -> None:
        """Write one track's (samples, S) stems into its rows, in place."""
        rows = -(-track.shape[0] // self.block)
        for s in range(self.n_stems):
            padded = np.zeros(rows * self.block, np.float32)
            padded[: track.shape[0]] = track[:, s]
            first = s * self.n_blocks + start
            tf.raw_ops.ResourceScatterUpdate(
                resource=self._handle,
                indices=tf.range(first, first + rows),
                updates=tf.constant(self._encode(padded.reshape(rows, self.block))),
            )

    def _encode(self, samples: np.ndarray) -> np.ndarray:
        if self.storage == "int16":
            clipped = np.clip(samples, -1.0, 1.0 - 1.0 / INT16_SCALE)
            return np.round(clipped * INT16_SCALE).astype(np.int16)
        return samples.astype(self.dtype.as_numpy_dtype)

    def gather(self, rows, handle=None):
        """Rows of the bank (any index shape) as float32 samples: index shape + (block,).

        `handle` (default: `self.handle()`) is passed in by XLA-compiled callers, which
        cannot open a variable themselves.
        """
        handle = self.handle() if handle is None else handle
        values = tf.raw_ops.ResourceGather(resource=handle, indices=rows, dtype=self.dtype)
        if self.storage == "int16":
            return tf.cast(values, tf.float32) * (1.0 / INT16_SCALE)
        return tf.cast(values, tf.float32)

    def numpy(self) -> np.ndarray:
        """The whole bank as float32 (S * n_blocks, block) (for tests on small banks)."""
        return self.gather(tf.range(self.n_stems * self.n_blocks)).numpy()

    @property
    def n_tracks(self) -> int:
        return len(self.names)

    @property
    def nbytes(self) -> int:
        """Bytes the bank holds in memory."""
        return self.n_stems * self.n_blocks * self.block * self.dtype.size

    def close(self) -> None:
        """Free the bank's memory; no pipeline built on it may run afterwards."""
        if self._handle is not None:
            tf.raw_ops.DestroyResourceOp(resource=self._handle, ignore_lookup_error=True)
            self._handle = None


@tf.function(autograph=False)
def _zeros_assign(handle, shape, dtype):
    # Inside a function the zeros tensor has one owner, so the variable takes its buffer
    # instead of copying it: the bank is allocated once.
    tf.raw_ops.AssignVariableOp(resource=handle, value=tf.zeros(shape, dtype))


def _fill_zeros(handle, shape, dtype) -> None:
    _zeros_assign(handle, tf.constant(shape, tf.int64), dtype)
