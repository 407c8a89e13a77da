"""`Separator`: any signal in, the instruments you ask for out, at the input's rate and channels.

For a signal x (samples, channels) at rate r (`cunet.separation.reference` is the same chain
written out plainly, on the whole signal at once):

1. each channel is resampled to the model rate and turned into normalized magnitude patches,
   overlapping by `overlap` on a grid fixed to the start of the signal (`patches`);
2. a `MaskEstimator` gives each patch's mask for each instrument's condition (`masks`), and the
   patch masks are overlap-added with trapezoidal weights (`patches.overlap_add`);
3. the masks are mapped onto an STFT of the input at its own rate, extended above the model's
   band, applied and inverted (`fullband`), optionally through a Wiener post-filter (`wiener`);
4. long signals go block by block on model and spectral threads, in bounded memory, equal to
   the one-shot result to float precision (`streaming`). Index spaces: `grid`.
"""

from __future__ import annotations

from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

import numpy as np

from cunet.audio.reading import ArraySource, AudioSource, check_audio_array
from cunet.config import Config
from cunet.errors import CunetError
from cunet.separation import instruments as _instruments
from cunet.separation.files import separate_file
from cunet.separation.fullband import FrequencyMap, InputMask, TimeMap
from cunet.separation.grid import PatchLayout, SignalGrid, Span
from cunet.separation.instruments import RESIDUAL, InstrumentSpec  # noqa: F401 (RESIDUAL re-exported)
from cunet.separation.masks import MaskEstimator
from cunet.separation.patches import overlap_add, patch_masks
from cunet.separation.runtimes import load_masks, resolve_runtime
from cunet.separation.streaming import PatchMaskQueue, Stitcher, masked_block, masked_blocks

MAX_WIENER_ITERATIONS = 100  # EM steps; the separation quality settles within a few


class Separator:
    """Separates instruments from signals of any rate, channel count and length.

    Args:
        masks: the `MaskEstimator` of a model (e.g. `TensorFlowMasks(model, config)`).
        config: the model's `Config` (rate, STFT, patch shape, instrument order).
        overlap: fraction of a patch shared with the next one (0 <= overlap < 1).
        block_seconds: input processed per block; bounds memory for long files.
        wiener_iterations: EM steps of the multichannel Wiener filter (`wiener=True`), 0 to
            `MAX_WIENER_ITERATIONS`; 0 keeps the plain power-ratio ("soft mask") filter.
        spectral_threads: blocks whose full-band STFT, mask and inverse STFT run at once.

    Example:
        >>> sep = Separator.load()                        # the embedded model, LiteRT when it can
        >>> out = sep.separate(x, 44100, ["vocals"], residual=True)   # instruments None: all
        >>> out["vocals"].shape == x.shape, out["residual"].shape == x.shape
        >>> sep.separate_file("song.mp3", "separated", ["vocals"])   # {"vocals": .../vocals.wav}
    """

    def __init__(
        self,
        masks: MaskEstimator,
        config: Config,
        overlap: float = 0.25,
        block_seconds: float = 5.0,
        wiener_iterations: int = 1,
        spectral_threads: int = 2,
    ):
        if not 0 <= overlap < 1:
            raise CunetError(f"overlap must be in [0, 1), got {overlap}")
        if not (np.isfinite(block_seconds) and block_seconds > 0):
            raise CunetError(f"block_seconds must be positive and finite, got {block_seconds}")
        if not 0 <= wiener_iterations <= MAX_WIENER_ITERATIONS:
            raise CunetError(f"wiener_iterations must be 0 to {MAX_WIENER_ITERATIONS}, got {wiener_iterations}")
        self.masks = masks
        self.config = config
        self.overlap = overlap
        self.block_seconds = float(block_seconds)
        self.wiener_iterations = int(wiener_iterations)
        self.spectral_threads = max(1, int(spectral_threads))
        self.layout = PatchLayout.from_config(config.patch, overlap)
        self.runtime = type(masks).__name__  # `load` sets the runtime's name
        self.last_block_count = 0

    @classmethod
    def load(
        cls, model_path: Union[None, str, Path] = None, runtime: str = "auto", batch_size: int = 16, **kwargs
    ) -> "Separator":
        """A saved cunet model (`.keras`, or `.tflite` for LiteRT; None: the embedded default
        model), loaded safely for `runtime` ("auto", "litert", "tensorflow" or "jax",
        `cunet.separation.runtimes`); `kwargs` go to the constructor. "auto" takes LiteRT
        when a `.tflite` exported from that very model lies beside it and ai-edge-litert
        imports, else TensorFlow; `runtime` then tells which was taken."""
        chosen = resolve_runtime(model_path, runtime)
        masks, config = load_masks(model_path, chosen, batch_size)
        separator = cls(masks, config, **kwargs)
        separator.runtime = chosen
        return separator

    @property
    def model(self):
        """The Keras model behind the masks (None for a runtime without one)."""
        return getattr(self.masks, "model", None)

    @property
    def instruments(self) -> list:
        """What this model separates: all instruments (C-U-Net) or its target (U-Net)."""
        return _instruments.model_instruments(self.config)

    def parse_instruments(self, instruments: Sequence[str]) -> list[InstrumentSpec]:
        """Parse and check specs against this model; raises `CunetError` naming the problem."""
        return _instruments.parse_instruments(instruments, self.config)

    def grid(self, samples: int, rate: int) -> SignalGrid:
        """The index spaces of a signal of `samples` samples at `rate`."""
        return SignalGrid.of(samples, rate, self.config.audio, self.layout)

    def block_count(self, samples: int, rate: int) -> int:
        """Blocks `iter_separate` processes such a signal in."""
        return len(self.grid(samples, rate).blocks(self.block_seconds))

    def iter_separate(
        self,
        source: AudioSource,
        instruments: Optional[Sequence[str]] = None,
        residual: bool = False,
        wiener: bool = False,
    ) -> Iterator[tuple[int, dict]]:
        """Separate an `AudioSource` block by block (`instruments` None: all of the model's).

        Yields (start, {name: (samples, channels) float32}) with consecutive, gap-free
        blocks covering [0, source.frames); names are the specs as written, plus "residual"
        (the mixture minus the sum of the estimates) when asked for.
        """
        specs = self.parse_instruments(self.instruments if instruments is None else instruments)
        if source.frames <= 0:
            raise CunetError("the input holds 0 samples")
        audio, grid = self.config.audio, self.grid(source.frames, source.rate)
        frequency = FrequencyMap.of(grid, audio, self.layout.freq_bins)
        conditions = _instruments.conditions(specs, self.config)
        compute = partial(patch_masks, self.masks, source, grid, audio, self.layout, conditions)
        stitch = Stitcher(grid, [s.text for s in specs], source.channels, residual)
        separate = partial(masked_block, source, grid, wiener_iterations=self.wiener_iterations if wiener else None)
        self.last_block_count = 0

        with PatchMaskQueue(compute, grid.patches) as queue:

            def masks_of(input_frames: Span) -> list[InputMask]:
                time = TimeMap.of(grid, audio, input_frames)
                per_spec = queue.get(self.layout.covering(time.model_frames, grid.patches))
                model_masks = [overlap_add(m, self.layout, time.model_frames) for m in per_spec]
                return [InputMask.of(m, time.model_frames, time, frequency) for m in model_masks]

            blocks = masked_blocks(grid.blocks(self.block_seconds), masks_of, separate, self.spectral_threads)
            with closing(blocks):
                for block in blocks:
                    self.last_block_count += 1
                    yield stitch(block)

    def separate(
        self,
        audio,
        sample_rate: int,
        instruments: Optional[Sequence[str]] = None,
        residual: bool = False,
        wiener: bool = False,
    ) -> dict:
        """Separate `instruments` from `audio`.

        Args:
            audio: (samples, channels) or (samples,) array at `sample_rate` (any rate).
            instruments: specs: "vocals", "vocals+drums", "vocals=0.5", ...; None: every
                instrument of the model (for a dedicated U-Net, its target).
            residual: also return "residual" = audio minus the sum of the estimates.
            wiener: share the mixture among the estimates (and the rest) by Wiener gains.

        Returns:
            {name: array of audio's shape, dtype float32, at sample_rate}.
        """
        x = check_audio_array(audio, sample_rate)
        names = [s.text for s in self.parse_instruments(self.instruments if instruments is None else instruments)]
        out = {name: np.zeros_like(x) for name in names + ([RESIDUAL] if residual else [])}
        for start, blocks in self.iter_separate(ArraySource(x, int(sample_rate)), names, residual, wiener):
            for name, y in blocks.items():
                out[name][start : start + len(y)] = y
        return {name: y[:, 0] for name, y in out.items()} if np.ndim(audio) == 1 else out

    def separate_file(
        self,
        path,
        out_dir,
        instruments: Optional[Sequence[str]] = None,
        residual: bool = False,
        wiener: bool = False,
        fmt: str = "wav",
        overwrite: bool = False,
        backend: str = "auto",
        progress: Union[bool, Callable[[float], None]] = True,
        **options,
    ) -> dict:
        """Separate an audio file into `out_dir/<song>/<name>.<fmt>` as `cunet separate` does
        (checked first, written atomically, block by block); returns {name: written path}.
        `instruments` None: every instrument of the model; `fmt` wav, flac or mp3;
        `progress`: True/False (a tqdm bar) or `progress(done_fraction: float)`, called as
        blocks are written; `options`: `wav_bits` (16, 24, 32 = float), `bitrate` (mp3,
        "320k"), `filename` (template, "{track}/{stem}.{ext}"), `skip_existing`. See
        `cunet.separation.files`."""
        return separate_file(
            self, path, out_dir, instruments, residual, wiener, fmt, overwrite, backend, progress, **options
        )
