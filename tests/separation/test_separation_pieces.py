"""The named pieces of separation: index spaces, the patch-mask queue, full-band masks, mask estimators."""

import numpy as np
import pytest

from cunet.errors import CunetError
from cunet.model.unet import build_model
from cunet.separation.fullband import FrequencyMap, InputMask, TimeMap
from cunet.separation.grid import PatchLayout, SignalGrid, Span
from cunet.separation.masks import TensorFlowMasks
from cunet.separation.patches import overlap_add
from cunet.separation.streaming import PatchMaskQueue


@pytest.mark.parametrize("overlap", [0.0, 0.25, 0.5, 0.9])
def test_patches_covering_a_frame_span_are_exactly_those_that_overlap_it(tiny, overlap):
    layout = PatchLayout.from_config(tiny.patch, overlap)
    count = layout.count(200)
    assert (count - 1) * layout.step + layout.frames >= 200 > (count - 2) * layout.step + layout.frames
    for start in range(0, 200, 7):
        for stop in range(start + 1, 201, 11):
            overlapping = [
                p for p in range(count) if p * layout.step < stop and p * layout.step + layout.frames > start
            ]
            assert layout.covering(Span(start, stop), count) == Span(overlapping[0], overlapping[-1] + 1)


def test_trapezoid_weights_overlap_add_to_a_constant_mask(tiny):
    layout = PatchLayout.from_config(tiny.patch, 0.25)
    w = layout.weights
    assert w.min() > 0 and w.max() == 1 and np.allclose(w, w[::-1])
    masks = {p: np.full((2, layout.freq_bins, layout.frames), 0.3, np.float32) for p in range(5)}
    frames = Span(3, 4 * layout.step + layout.frames - 2)
    np.testing.assert_allclose(overlap_add(masks, layout, frames), 0.3, rtol=1e-6)


def test_blocks_cover_the_input_frames_without_gaps(tiny):
    layout = PatchLayout.from_config(tiny.patch, 0.25)
    grid = SignalGrid.of(44100 * 7 + 13, 44100, tiny.audio, layout)
    blocks = grid.blocks(0.9)
    assert blocks[0].start == 0 and blocks[-1].stop == grid.input_frames
    assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:]))
    first = grid.input_samples(Span(0, 1))
    assert first.start == -grid.input_pad and len(first) == grid.input_n_fft
    last = grid.input_samples(Span(grid.input_frames - 1, grid.input_frames))
    assert last.stop >= grid.samples  # the last frame reaches the end of the signal


def test_full_band_mask_maps_model_bins_onto_input_bins(tiny):
    layout = PatchLayout.from_config(tiny.patch, 0.25)
    grid = SignalGrid.of(44100, 44100, tiny.audio, layout)
    frequency = FrequencyMap.of(grid, tiny.audio, layout.freq_bins)
    time = TimeMap.of(grid, tiny.audio, Span(5, 17))
    span = time.model_frames
    bins = np.arange(layout.freq_bins, dtype=np.float32)
    model_mask = np.broadcast_to(bins, (2, len(span), layout.freq_bins)) / layout.freq_bins
    mask = InputMask.of(model_mask, span, time, frequency)
    hz = np.arange(frequency.inside) * 44100 / grid.input_n_fft
    expected = hz * tiny.audio.n_fft / tiny.audio.sample_rate / layout.freq_bins  # linear in Hz
    np.testing.assert_allclose(mask.band[1, 3], expected, rtol=1e-5, atol=1e-6)
    top = bins[(layout.freq_bins - 1) // 2 :].mean() / layout.freq_bins
    np.testing.assert_allclose(mask.extension, top, rtol=1e-5)
    spectrum = (np.random.default_rng(0).standard_normal((2, 12, grid.input_n_fft // 2 + 1)) * (1 + 1j)).astype(
        np.complex64
    )
    np.testing.assert_allclose(mask.apply(spectrum), spectrum * mask.full(spectrum.shape[-1]), rtol=1e-6)


def test_patch_mask_queue_computes_each_patch_once_and_ahead():
    calls = []

    def compute(patches):
        calls.append(patches)
        index = np.arange(patches.start, patches.stop, dtype=np.float32)[:, None, None, None]
        shape = (len(patches), 2, 3, 4)
        return [np.broadcast_to(index, shape), -np.broadcast_to(index, shape)]

    with PatchMaskQueue(compute, patches=30, job=4, ahead=2) as queue:
        first = queue.get(Span(0, 6))
        assert queue.submitted == 4  # jobs 0-1 asked for, 2 more queued ahead
        assert sorted(first[0]) == list(range(6)) and first[0][5].shape == (2, 3, 4)
        assert first[0][5][0, 0, 0] == 5 and first[1][5][0, 0, 0] == -5
        later = queue.get(Span(5, 30))
        assert sorted(later[1]) == list(range(5, 30)) and later[0][29][1, 2, 3] == 29
    assert sorted(calls, key=lambda s: s.start) == [Span(q, min(q + 4, 30)) for q in range(0, 30, 4)]  # each job once


def test_tensorflow_masks_are_the_models_mask(tiny):
    model = build_model(tiny, compile=False)
    masks = TensorFlowMasks(model, tiny, batch_size=3)
    rng = np.random.default_rng(0)
    patches = rng.random((7, tiny.patch.freq_bins, tiny.patch.frames, 1)).astype(np.float32)
    condition = np.array([0, 1, 0, 0.5], np.float32)
    out = masks(patches, condition)
    assert out.shape == patches.shape[:3] and out.dtype == np.float32
    assert np.all((out >= 0) & (out <= 1))
    estimate = np.asarray(model([patches, np.tile(condition, (7, 1))], training=False))[..., 0]
    np.testing.assert_allclose(out * patches[..., 0], estimate, atol=1e-5)  # the model's output is mask * input


def test_unknown_runtime_is_a_clear_error():
    from cunet.separation.separator import Separator

    with pytest.raises(CunetError, match="unknown runtime 'onnx'"):
        Separator.load(None, runtime="onnx")
