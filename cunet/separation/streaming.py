"""Block streaming: long signals separated block by block, on several threads, in bounded memory.

Two model threads compute patch masks ahead (`PatchMaskQueue`); the main thread maps them onto
each block of input frames; `spectral_threads` threads read, transform, mask and invert the
blocks (`masked_block`, run by `masked_blocks`), and `Stitcher` overlap-adds the inverted
blocks in order and cuts the finished samples. Every block reads, resamples and runs only the
patches it needs (with margins), so the result equals the one-shot result to float precision.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import numpy as np

import cunet.audio.stft as spectral
from cunet.audio.reading import AudioSource
from cunet.errors import CunetError
from cunet.separation.fullband import InputMask
from cunet.separation.grid import SignalGrid, Span
from cunet.separation.instruments import RESIDUAL
from cunet.separation.wiener import filter_masks


class PatchMaskQueue:
    """The masks of one signal's patches, computed ahead by a pool of model threads.

    Patches are computed in jobs of `job` consecutive patches by `compute(patches: Span)` (a
    list per spec of (len(patches), channels, freq_bins, frames) arrays), up to `ahead` jobs
    beyond the last patch asked for. Two concurrent model calls keep both CPU cores busy
    (TensorFlow's own intra-op threads keep them only partly busy with these small
    convolutions), and the masks of the next blocks are ready while the caller inverts the
    current one. Use as a context manager: leaving it cancels what is queued and waits for
    the running jobs.
    """

    def __init__(self, compute: Callable, patches: int, job: int = 8, ahead: int = 3, threads: int = 2):
        self.compute = compute
        self.patches = patches
        self.job = job
        self.ahead = ahead
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="cunet-model")
        self.jobs: dict = {}
        self.submitted = 0

    def get(self, patches: Span) -> list[dict]:
        """Masks of `patches`: per spec, {patch index: (channels, freq_bins, frames)}.
        Calls must ask for non-decreasing spans; jobs before `patches` are forgotten."""
        first_job, last_job = patches.start // self.job, (patches.stop - 1) // self.job
        while self.submitted <= min(last_job + self.ahead, (self.patches - 1) // self.job):
            start = self.submitted * self.job
            self.jobs[self.submitted] = self.pool.submit(self.compute, Span(start, min(start + self.job, self.patches)))
            self.submitted += 1
        for j in [j for j in self.jobs if j < first_job]:
            del self.jobs[j]
        out = None
        for j in range(first_job, last_job + 1):
            masks = self.jobs[j].result()
            out = out or [dict() for _ in masks]
            for per_spec, m in zip(out, masks):
                wanted = range(max(patches.start - j * self.job, 0), min(patches.stop - j * self.job, len(m)))
                per_spec.update((j * self.job + k, m[k]) for k in wanted)
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class MaskedBlock:
    """Input frames `frames` of a signal, separated but not yet stitched: `mixture` (samples,
    channels) the input they read, `estimates` [(channels, samples)] one inverse STFT per spec."""

    frames: Span
    mixture: np.ndarray
    estimates: list


def masked_block(
    source: AudioSource, grid: SignalGrid, frames: Span, masks: list[InputMask], wiener_iterations: Optional[int]
) -> MaskedBlock:
    """Read the block, take its input STFT, apply each mask (or the Wiener filter with
    `wiener_iterations` EM steps, when not None) and invert. Blocks are independent."""
    samples = grid.input_samples(frames)
    x = source.read(samples.start, samples.stop)  # (samples, C)
    if not np.all(np.isfinite(x)):
        raise CunetError("the input contains NaN or Inf samples")
    spectrum = spectral.stft_numpy(x.T, grid.input_n_fft, grid.input_hop)  # (C, U, K)
    if wiener_iterations is None:
        spectra = [m.apply(spectrum) for m in masks]
    else:
        spectra = filter_masks(spectrum, [m.full(spectrum.shape[-1]) for m in masks], wiener_iterations)
    return MaskedBlock(frames, x, [spectral.istft(z, grid.input_n_fft, grid.input_hop) for z in spectra])


def masked_blocks(
    blocks: list[Span], masks_of: Callable[[Span], list[InputMask]], separate: Callable, threads: int
) -> Iterator[MaskedBlock]:
    """`separate(frames, masks_of(frames))` for every block, `threads` blocks at once, in order.
    `masks_of` runs in the caller's thread, `separate` (e.g. `masked_block`) in the pool."""
    pending = deque()
    with ThreadPoolExecutor(threads, thread_name_prefix="cunet-spectral") as pool:
        try:
            for frames in blocks:
                pending.append(pool.submit(separate, frames, masks_of(frames)))
                if len(pending) > threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


class Stitcher:
    """Overlap-adds consecutive `MaskedBlock`s and cuts the finished samples.

    Call: block -> (start, {name: (samples, channels)}), gap-free from sample 0; with
    `residual`, "residual" is the mixture minus the sum of the estimates.
    """

    def __init__(self, grid: SignalGrid, names: list[str], channels: int, residual: bool):
        self.grid = grid
        self.names = names
        self.residual = residual
        self.tails = [np.zeros((channels, grid.input_pad), np.float32) for _ in names]
        self.count = 0

    def __call__(self, block: MaskedBlock) -> tuple[int, dict]:
        grid, pad = self.grid, self.grid.input_pad
        self.count += 1
        start = grid.input_samples(block.frames).start
        emit = Span(
            max(start, 0),
            grid.samples if block.frames.stop == grid.input_frames else block.frames.stop * grid.input_hop - pad,
        )
        outputs = {}
        for s, name in enumerate(self.names):
            y = block.estimates[s]
            y[:, :pad] += self.tails[s]
            self.tails[s] = y[:, len(block.frames) * grid.input_hop :].copy()
            outputs[name] = y[:, emit.start - start : emit.stop - start].T
        if self.residual:
            mixture = block.mixture[emit.start - start : emit.stop - start]
            outputs[RESIDUAL] = mixture - sum(outputs[name] for name in self.names)
        return emit.start, outputs
