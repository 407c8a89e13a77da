"""`Separator`: any signal in, the instruments you ask for out, at the input's rate and channels.

The pipeline for a signal x (samples, channels) at rate r:

1. Each channel is resampled to the model rate and turned into normalized magnitudes with the
   shared front end (`cunet.audio.spectral.model_magnitude_numpy`); the stereo image is kept because every
   channel gets its own mask.
2. Magnitudes are cut into `patch.frames`-frame patches overlapping by `overlap` (25 % by
   default) on a grid fixed to the start of the signal; the model's sigmoid mask (layer
   `cunet.model.unet.MASK_LAYER`) is computed in batches in inference mode, and the patch masks
   are overlap-added with trapezoidal weights (linear ramps over the overlap), the summed
   weights asserted positive, then divided: no seams.
3. Full band: the mask is mapped onto an STFT of the *input* at its own rate, with a window
   of about the same duration (n_fft * r / model_rate rounded to a power of two, same hop
   ratio). It is linearly interpolated in time (seconds) and frequency (Hz). Above the model's
   top bin (`freq_bins * model_rate / n_fft` Hz, 4 kHz for the paper model) the mask of each
   frame is extended with its mean over the model's top octave, so cymbals, sibilants and air
   follow the instrument they belong to instead of being cut. The masked input STFT is
   inverted at rate r: output has the input's bandwidth, rate, channels and length. A mask of
   1 returns the input (to float precision), a mask of 0 silence.
4. Optional Wiener post-filter (`cunet.separation.wiener`) across the requested instruments plus the
   rest of the mixture: power-ratio gains, then (by default one) EM step of the multichannel
   Wiener filter, whose spatial covariances are estimated per block.
5. Long inputs are processed in blocks of `block_seconds` of input STFT frames; each block
   reads, resamples and runs only the patches it needs (with margins), so memory is bounded
   and the result equals the one-shot result to float precision. Two model threads compute
   patch masks ahead (`_PatchMaskQueue`) while `spectral_threads` threads apply and invert
   the next blocks (`_masked_block`); the blocks are then stitched in order (`_stitch`).
"""

from __future__ import annotations

import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import numpy as np

from cunet.audio.reading import ArraySource, AudioSource, check_audio_array
from cunet.audio.resample import resample
from cunet.config import Config
from cunet.errors import CunetError
from cunet.separation.instruments import InstrumentSpec, parse_spec
from cunet.kernels.mask_head import split_mask_model
from cunet.audio.spectral import input_stft_settings

RESIDUAL = "residual"
DEFAULT_MODEL_FILE = "cunet-default.keras"


def default_model_path() -> Path:
    """Where the embedded default model lives (`cunet/pretrained/cunet-default.keras`)."""
    return Path(__file__).resolve().parent.parent / "pretrained" / DEFAULT_MODEL_FILE


def resolve_model_path(model: Union[None, str, Path]) -> Path:
    """`None` -> the embedded default model (a clear `CunetError` if it is not there)."""
    if model is not None:
        return Path(model)
    path = default_model_path()
    if not path.is_file():
        raise CunetError(
            f"the embedded default model is not installed ({path.name} missing in "
            f"{path.parent}); pass a trained model with --model PATH"
        )
    return path


@dataclass(frozen=True)
class _Grid:
    """Model-rate and input-rate STFT grids of one signal (all indices global)."""

    n: int  # input samples
    rate: int
    n_model: int  # model-rate samples
    model_frames: int  # T_m
    patches: int  # P
    n_fft_in: int
    hop_in: int
    frames_in: int  # U


class Separator:
    """Separates instruments from signals of any rate, channel count and length.

    Args:
        model: a cunet `keras.Model` (C-U-Net or dedicated U-Net) with a layer named
            `cunet.model.unet.MASK_LAYER`.
        config: its `Config` (rate, STFT, patch shape, instrument order).
        overlap: fraction of a patch shared with the next one (0 <= overlap < 1).
        batch_size: patches per model call.
        block_seconds: input processed per block; bounds memory for long files.
        wiener_iterations: EM steps of the multichannel Wiener filter (`wiener=True`); 0 keeps
            the plain power-ratio ("soft mask") filter.
        spectral_threads: blocks whose full-band STFT, mask and inverse STFT run at once.

    Example:
        >>> sep = Separator.load()                        # the embedded model
        >>> out = sep.separate(x, 44100, ["vocals"], residual=True)
        >>> out["vocals"].shape == x.shape, out["residual"].shape == x.shape
    """

    def __init__(
        self,
        model,
        config: Config,
        overlap: float = 0.25,
        batch_size: int = 16,
        block_seconds: float = 10.0,
        wiener_iterations: int = 1,
        spectral_threads: int = 2,
    ):
        import keras

        from cunet.model.unet import MASK_LAYER

        if not 0 <= overlap < 1:
            raise CunetError(f"overlap must be in [0, 1), got {overlap}")
        if block_seconds <= 0:
            raise CunetError(f"block_seconds must be positive, got {block_seconds}")
        self.model = model
        self.config = config
        self.overlap = overlap
        self.batch_size = int(batch_size)
        self.block_seconds = float(block_seconds)
        self.wiener_iterations = int(wiener_iterations)
        self.spectral_threads = max(1, int(spectral_threads))
        self.mask_model = keras.Model(model.input, model.get_layer(MASK_LAYER).output)
        frames = config.patch.frames
        self.overlap_frames = min(int(round(overlap * frames)), frames - 1)
        self.patch_step = frames - self.overlap_frames
        self.patch_weights = self._trapezoid(frames, self.overlap_frames)
        self.last_block_count = 0
        self.model_seconds = 0.0  # time spent in the model (benchmarks report its share)
        self.model_patches = 0
        self._compiled = None

    @classmethod
    def load(cls, model: Union[None, str, Path] = None, **kwargs) -> "Separator":
        """Load a saved cunet model (None: the embedded default model) safely."""
        from cunet.model.files import load_model

        keras_model, config = load_model(resolve_model_path(model))
        return cls(keras_model, config, **kwargs)

    @staticmethod
    def _trapezoid(frames: int, overlap: int) -> np.ndarray:
        """Patch weights (frames,): linear ramps over the overlap, 1 in between, always > 0."""
        i = np.arange(frames, dtype=np.float64)
        ramp = overlap + 1
        return np.minimum(1.0, np.minimum((i + 1) / ramp, (frames - i) / ramp)).astype(np.float32)

    # ----------------------------------------------------------------- instruments
    @property
    def instruments(self) -> list:
        """What this model separates: all instruments (C-U-Net) or its target (U-Net)."""
        if self.config.conditioned:
            return list(self.config.instruments)
        return [self.config.model.target]

    def parse_instruments(self, instruments: Sequence[str]) -> list[InstrumentSpec]:
        """Parse and check specs against this model; raises `CunetError` naming the problem."""
        if isinstance(instruments, str):
            instruments = [instruments]
        specs = [parse_spec(text, self.config.instruments) for text in instruments]
        if not specs:
            raise CunetError(f"no instrument requested (valid instruments: {', '.join(self.instruments)})")
        names = [s.text for s in specs]
        if len(set(names)) != len(names) or RESIDUAL in names:
            raise CunetError(f"instruments requested twice: {names}")
        if not self.config.conditioned:
            target = self.config.model.target
            for spec in specs:
                if spec.weights != {target: 1.0}:
                    raise CunetError(
                        f"this model is a dedicated U-Net for {target!r}: it separates only "
                        f"{target!r}, not {spec.text!r} (use a C-U-Net model for other instruments)"
                    )
        return specs

    # ----------------------------------------------------------------- grids
    def _grid(self, n: int, rate: int) -> _Grid:
        a = self.config.audio
        n_model = n if rate == a.sample_rate else int(round(n * a.sample_rate / rate))
        model_frames = max(1, (max(n_model, 1) - 1 + a.n_fft - a.hop_length) // a.hop_length + 1)
        frames = self.config.patch.frames
        patches = 1 + max(0, math.ceil((model_frames - frames) / self.patch_step))
        n_fft_in, hop_in = input_stft_settings(a, rate)
        frames_in = (n - 1 + n_fft_in - hop_in) // hop_in + 1
        return _Grid(n, rate, n_model, model_frames, patches, n_fft_in, hop_in, frames_in)

    def _model_samples(self, source: AudioSource, grid: _Grid, a: int, b: int) -> np.ndarray:
        """Model-rate signal samples [a, b) -> (channels, b - a), zeros outside the signal.

        Resampling works on aligned input segments with a margin, so every block sees the
        same model-rate samples as a one-shot resampling of the whole signal.
        """
        rm, ri = self.config.audio.sample_rate, grid.rate
        if rm == ri:
            return source.read(a, b).T
        g = math.gcd(rm, ri)
        qm, qi = rm // g, ri // g
        margin = max(rm // 4, 256)
        a_m = max(0, ((a - margin) // qm) * qm)
        b_m = -(-(b + margin) // qm) * qm
        a_i, b_i = a_m // qm * qi, min(b_m // qm * qi, grid.n)
        out = np.zeros((source.channels, b - a), np.float32)
        if b_i <= a_i:
            return out
        seg = resample(source.read(a_i, b_i), ri, rm)
        hi = min(a_m + len(seg), grid.n_model)
        lo_c, hi_c = max(a, a_m), min(b, hi)
        if hi_c > lo_c:
            out[:, lo_c - a : hi_c - a] = seg[lo_c - a_m : hi_c - a_m].T
        return out

    # ----------------------------------------------------------------- model
    def _conditions(self, specs: list[InstrumentSpec]) -> list[Optional[np.ndarray]]:
        if not self.config.conditioned:
            return [None] * len(specs)
        return [spec.condition(self.config.instruments) for spec in specs]

    def _run_mask_model(self, patches: np.ndarray, condition: Optional[np.ndarray]) -> np.ndarray:
        """patches (N, freq_bins, frames, 1) -> masks (N, freq_bins, frames) in [0, 1]."""
        started = time.perf_counter()
        out = []
        for i in range(0, len(patches), self.batch_size):
            batch = patches[i : i + self.batch_size]
            if condition is None:
                inputs = batch
            else:
                inputs = [batch, np.repeat(condition[None], len(batch), axis=0)]
            out.append(np.asarray(self._mask_function()(inputs))[..., 0])
        self.model_seconds += time.perf_counter() - started
        self.model_patches += len(patches)
        return np.concatenate(out, axis=0)

    def _mask_function(self):
        """`mask_model` in inference mode, traced once as a graph (any batch size), its mask
        block in the faster folded form of `cunet.kernels.mask_head` when the model has one."""
        if self._compiled is None or self._compiled[0] is not self.mask_model:
            import keras
            import tensorflow as tf

            model = self.mask_model
            if not isinstance(model, keras.Model):  # a plain callable, e.g. a test probe
                self._compiled = (model, lambda inputs: model(inputs, training=False))
                return self._compiled[1]
            p = self.config.patch
            signature = [tf.TensorSpec((None, p.freq_bins, p.frames, 1), tf.float32)]
            if self.config.conditioned:
                signature.append(tf.TensorSpec((None, len(self.config.instruments)), tf.float32))

            split = split_mask_model(model, self.config)
            if split is None:
                forward = lambda x: model(x, training=False)  # noqa: E731
            else:
                body, head = split
                forward = lambda x: head(body(x, training=False))  # noqa: E731

            @tf.function(input_signature=signature)
            def call(*inputs):
                return forward(list(inputs) if len(inputs) > 1 else inputs[0])

            # the concrete graph, called directly: several Separators (e.g. four dedicated
            # U-Nets in `cunet evaluate`) then do not trip tf.function's retracing warning
            graph = call.get_concrete_function()

            def run(inputs):
                inputs = inputs if isinstance(inputs, list) else [inputs]
                return graph(*[tf.convert_to_tensor(x, tf.float32) for x in inputs])

            self._compiled = (model, run)
        return self._compiled[1]

    def _patch_masks(self, source, grid, q_a, q_b, conditions) -> list[np.ndarray]:
        """Masks of patches q_a..q_b for each spec: (q_b - q_a + 1, channels, freq_bins, frames)."""
        import cunet.audio.spectral as spectral

        a = self.config.audio
        frames, bins = self.config.patch.frames, self.config.patch.freq_bins
        pad = a.n_fft - a.hop_length
        start = q_a * self.patch_step * a.hop_length - pad
        n_frames = (q_b - q_a) * self.patch_step + frames
        stop = start + (n_frames - 1) * a.hop_length + a.n_fft
        signal = self._model_samples(source, grid, start, stop)
        mags = spectral.model_magnitude_numpy(signal, a)[..., :bins]  # (C, T, F)
        offsets = [k * self.patch_step for k in range(q_b - q_a + 1)]
        patches = np.stack([mags[:, o : o + frames] for o in offsets], axis=1)  # (C, P, T, F)
        channels = patches.shape[0]
        patches = patches.transpose(1, 0, 3, 2).reshape(-1, bins, frames, 1)
        return [
            self._run_mask_model(patches, condition).reshape(len(offsets), channels, bins, frames)
            for condition in conditions
        ]

    def _model_mask(self, queue: "_PatchMaskQueue", grid, t_a, t_b) -> list[np.ndarray]:
        """Overlap-added masks of model frames t_a..t_b per spec: (channels, t_b - t_a + 1, F)."""
        frames, step = self.config.patch.frames, self.patch_step
        p_a = max(0, (t_a - frames) // step + 1)
        p_b = min(grid.patches - 1, t_b // step)
        patch_masks = queue.get(p_a, p_b)
        length = t_b - t_a + 1
        weight_sum = np.zeros(length, np.float32)
        masks = [np.zeros((queue.channels, length, self.config.patch.freq_bins), np.float32) for _ in patch_masks]
        for p in range(p_a, p_b + 1):
            lo, hi = max(p * step, t_a), min(p * step + frames, t_b + 1)
            if hi <= lo:
                continue
            w = self.patch_weights[lo - p * step : hi - p * step]
            weight_sum[lo - t_a : hi - t_a] += w
            for s in range(len(masks)):
                patch = patch_masks[s][p][:, :, lo - p * step : hi - p * step]  # (C, F, t)
                masks[s][:, lo - t_a : hi - t_a] += patch.transpose(0, 2, 1) * w[None, :, None]
        assert np.all(weight_sum > 0), "overlap-add weights must cover every frame"
        return [m / weight_sum[None, :, None] for m in masks]

    # ----------------------------------------------------------------- full band
    def _frequency_map(self, grid: _Grid):
        """Input bins -> (lo, hi, w, above): model-bin interpolation and the extension region."""
        a = self.config.audio
        bins = self.config.patch.freq_bins
        freqs = np.arange(grid.n_fft_in // 2 + 1) * grid.rate / grid.n_fft_in
        pos = freqs * a.n_fft / a.sample_rate
        above = pos > bins - 1
        pos = np.minimum(pos, bins - 1)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, bins - 1)
        return lo, hi, (pos - lo).astype(np.float32), above

    def _input_mask(self, queue: "_PatchMaskQueue", grid, u0, u1, fmap) -> list[tuple]:
        """Masks on the input STFT grid, frames u0..u1-1, per spec as (band, extension): band
        (channels, u1 - u0, B) for the first B input bins (those within the model's band),
        extension (channels, u1 - u0, 1) for every bin above (see `_full_mask`)."""
        a = self.config.audio
        u = np.arange(u0, u1)
        centers = (u * grid.hop_in - (grid.n_fft_in - grid.hop_in) + grid.n_fft_in / 2) / grid.rate
        t = (centers * a.sample_rate + (a.n_fft - a.hop_length) - a.n_fft / 2) / a.hop_length
        t = np.clip(t, 0, grid.model_frames - 1)
        t_lo = np.floor(t).astype(int)
        t_hi = np.minimum(t_lo + 1, grid.model_frames - 1)
        t_w = (t - t_lo).astype(np.float32)[None, :, None]
        t_a, t_b = int(t_lo.min()), int(t_hi.max())
        model_masks = self._model_mask(queue, grid, t_a, t_b)
        f_lo, f_hi, f_w, above = fmap
        bins = self.config.patch.freq_bins
        top_octave = slice((bins - 1) // 2, bins)
        out = []
        inside = int(np.count_nonzero(~above))  # input bins within the model band (a prefix)
        f_lo, f_hi, f_w = f_lo[:inside], f_hi[:inside], f_w[:inside]
        for m in model_masks:
            m = m[:, t_lo - t_a] * (1 - t_w) + m[:, t_hi - t_a] * t_w  # (C, U, F)
            band = m[:, :, f_lo] * (1 - f_w) + m[:, :, f_hi] * f_w
            out.append((band, m[:, :, top_octave].mean(axis=-1, keepdims=True)))
        return out

    @staticmethod
    def _apply_mask(spectrum: np.ndarray, mask: tuple) -> np.ndarray:
        """spectrum (C, U, K) times an `_input_mask` mask, without building the (C, U, K) mask."""
        band, extension = mask
        inside = band.shape[-1]
        out = np.empty_like(spectrum)
        np.multiply(spectrum[..., :inside], band, out=out[..., :inside])
        np.multiply(spectrum[..., inside:], extension, out=out[..., inside:])
        return out

    @staticmethod
    def _full_mask(mask: tuple, bins: int) -> np.ndarray:
        """An `_input_mask` mask as one (C, U, bins) array."""
        band, extension = mask
        return np.concatenate([band, np.broadcast_to(extension, band.shape[:2] + (bins - band.shape[-1],))], -1)

    # ----------------------------------------------------------------- separation
    def block_count(self, n: int, rate: int) -> int:
        grid = self._grid(n, rate)
        return math.ceil(grid.frames_in / self._block_frames(grid))

    def _block_frames(self, grid: _Grid) -> int:
        return max(1, int(round(self.block_seconds * grid.rate / grid.hop_in)))

    def iter_separate(
        self,
        source: AudioSource,
        instruments: Sequence[str] = ("vocals",),
        residual: bool = False,
        wiener: bool = False,
    ) -> Iterator[tuple[int, dict]]:
        """Separate an `AudioSource` block by block.

        Yields (start, {name: (samples, channels) float32}) with consecutive, gap-free
        blocks covering [0, source.frames); names are the specs as written, plus "residual"
        (the mixture minus the sum of the estimates) when asked for.
        """
        specs = self.parse_instruments(instruments)
        if source.frames <= 0:
            raise CunetError("the input holds 0 samples")
        conditions = self._conditions(specs)
        grid = self._grid(source.frames, source.rate)
        fmap = self._frequency_map(grid)
        block = self._block_frames(grid)
        carry = [np.zeros((source.channels, grid.n_fft_in - grid.hop_in), np.float32) for _ in specs]
        self.last_block_count = 0
        self._mask_function()  # traced here, once, before the model threads share it
        queue = _PatchMaskQueue(
            lambda q_a, q_b: self._patch_masks(source, grid, q_a, q_b, conditions),
            grid.patches, source.channels,
        )
        pending = deque()
        with queue, ThreadPoolExecutor(self.spectral_threads, thread_name_prefix="cunet-spectral") as pool:
            try:
                for u0 in range(0, grid.frames_in, block):
                    u1 = min(u0 + block, grid.frames_in)
                    masks = self._input_mask(queue, grid, u0, u1, fmap)
                    pending.append(pool.submit(self._masked_block, source, grid, u0, u1, masks, wiener))
                    if len(pending) > self.spectral_threads:
                        yield self._stitch(grid, *pending.popleft().result(), specs, carry, residual)
                while pending:
                    yield self._stitch(grid, *pending.popleft().result(), specs, carry, residual)
            finally:
                for future in pending:
                    future.cancel()

    def _masked_block(self, source, grid, u0, u1, masks, wiener) -> tuple:
        """Input frames u0..u1-1: the input STFT times the block's `masks`, inverted.
        Returns (u0, u1, x, [(channels, (u1 - u0 - 1) * hop + n_fft) per spec]) where x is
        the block's input (samples, channels); blocks are independent until `_stitch`."""
        import cunet.audio.spectral as spectral

        n_fft, hop = grid.n_fft_in, grid.hop_in
        pad = n_fft - hop
        start = u0 * hop - pad
        x = source.read(start, (u1 - 1) * hop - pad + n_fft)  # (samples, C)
        if not np.all(np.isfinite(x)):
            raise CunetError("the input contains NaN or Inf samples")
        spectrum = spectral.stft_numpy(x.T, n_fft, hop)  # (C, U, K)
        if wiener:
            spectra = self._wiener(spectrum, [self._full_mask(m, spectrum.shape[-1]) for m in masks])
        else:
            spectra = [self._apply_mask(spectrum, m) for m in masks]
        return u0, u1, x, [spectral.istft(z, n_fft, hop) for z in spectra]

    def _stitch(self, grid, u0, u1, x, inverted, specs, carry, residual) -> tuple[int, dict]:
        """Overlap-adds a `_masked_block` onto `carry` (the previous block's tail) and cuts
        the finished samples: (start, {name: (samples, channels)})."""
        hop, pad = grid.hop_in, grid.n_fft_in - grid.hop_in
        self.last_block_count += 1
        start = u0 * hop - pad
        emit_lo = max(start, 0)
        emit_hi = grid.n if u1 == grid.frames_in else u1 * hop - pad
        outputs = {}
        for s, spec in enumerate(specs):
            y = inverted[s]
            y[:, :pad] += carry[s]
            carry[s] = y[:, (u1 - u0) * hop :].copy()
            outputs[spec.text] = y[:, emit_lo - start : emit_hi - start].T
        if residual:
            mixture = x[emit_lo - start : emit_hi - start]
            outputs[RESIDUAL] = mixture - sum(outputs[s.text] for s in specs)
        return emit_lo, outputs

    def _wiener(self, spectrum: np.ndarray, masks: list) -> list:
        """Wiener post-filter of one block: the requested estimates plus the rest of the mixture
        share the input STFT (C, U, K) by power, then `wiener_iterations` EM steps refine them
        with each source's spatial covariance (estimated over the block)."""
        from cunet.separation.wiener import expectation_maximization, wiener_gains

        magnitude = np.abs(spectrum)
        rest = np.maximum(0.0, 1.0 - sum(masks))
        gains = wiener_gains([m * magnitude for m in masks] + [rest * magnitude])
        estimates = gains * spectrum[None]
        if self.wiener_iterations > 0:
            estimates = expectation_maximization(spectrum, estimates, self.wiener_iterations)
        return list(estimates[:-1])

    def separate(
        self,
        audio,
        sample_rate: int,
        instruments: Sequence[str] = ("vocals",),
        residual: bool = False,
        wiener: bool = False,
    ) -> dict:
        """Separate `instruments` from `audio`.

        Args:
            audio: (samples, channels) or (samples,) array at `sample_rate` (any rate).
            instruments: specs: "vocals", "vocals+drums", "vocals=0.5", ...
            residual: also return "residual" = audio minus the sum of the estimates.
            wiener: share the mixture among the estimates (and the rest) by Wiener gains.

        Returns:
            {name: array of audio's shape, dtype float32, at sample_rate}.
        """
        x = check_audio_array(audio, sample_rate)
        specs = self.parse_instruments(instruments)
        names = [s.text for s in specs] + ([RESIDUAL] if residual else [])
        out = {name: np.zeros_like(x) for name in names}
        source = ArraySource(x, int(sample_rate))
        for start, blocks in self.iter_separate(source, [s.text for s in specs], residual, wiener):
            for name, y in blocks.items():
                out[name][start : start + len(y)] = y
        if np.ndim(audio) == 1:
            out = {name: y[:, 0] for name, y in out.items()}
        return out


class _PatchMaskQueue:
    """The masks of one signal's patches, computed ahead by a pool of model threads.

    Patches are computed in jobs of `job` consecutive patches by `compute(q_a, q_b)` (a list
    per spec of (n, channels, freq_bins, frames) arrays), up to `ahead` jobs beyond the last
    patch asked for. Two concurrent model calls keep both CPU cores busy (TensorFlow's own
    intra-op threads keep them only partly busy with these small convolutions), and the masks
    of the next blocks are ready while the caller inverts the current one. Use as a context
    manager: leaving it cancels what is queued and waits for the running jobs.
    """

    def __init__(self, compute, patches: int, channels: int, job: int = 8, ahead: int = 3, threads: int = 2):
        self.compute = compute
        self.patches = patches
        self.channels = channels
        self.job = job
        self.ahead = ahead
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="cunet-model")
        self.jobs: dict = {}
        self.submitted = 0

    def get(self, p_a: int, p_b: int) -> list[dict]:
        """Masks of patches p_a..p_b: per spec, {patch index: (channels, freq_bins, frames)}.
        Calls must ask for non-decreasing ranges; jobs before p_a are forgotten."""
        j_a, j_b = p_a // self.job, p_b // self.job
        last = (self.patches - 1) // self.job
        while self.submitted <= min(j_b + self.ahead, last):
            q_a = self.submitted * self.job
            self.jobs[self.submitted] = self.pool.submit(self.compute, q_a, min(q_a + self.job, self.patches) - 1)
            self.submitted += 1
        for j in [j for j in self.jobs if j < j_a]:
            del self.jobs[j]
        out = None
        for j in range(j_a, j_b + 1):
            masks = self.jobs[j].result()
            out = out or [dict() for _ in masks]
            for per_spec, m in zip(out, masks):
                per_spec.update((j * self.job + k, m[k]) for k in range(len(m)))
        return out

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.pool.shutdown(wait=True, cancel_futures=True)
