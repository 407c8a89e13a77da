"""The block-streaming, threaded `Separator` equals the plain reference chain to float precision."""

import numpy as np
import pytest

from cunet.separation.masks import TensorFlowMasks
from cunet.separation.reference import separate_reference
from cunet.separation.separator import Separator
from model_fixtures import sharpened_model


@pytest.fixture(scope="module")
def masks(tiny):
    return TensorFlowMasks(sharpened_model(tiny), tiny)


def _signal(seconds, rate, channels, seed):
    rng = np.random.default_rng(seed)
    x = 0.1 * rng.standard_normal((max(1, int(seconds * rate)), channels))
    return (x * np.sin(np.linspace(0, 9 * np.pi, len(x)))[:, None]).astype(np.float32)  # a varying level


@pytest.mark.parametrize(
    "rate, channels, seconds, block_seconds, overlap",
    [
        (8192, 1, 6.0, 0.9, 0.25),  # the model rate: no resampling
        (44100, 2, 3.0, 0.7, 0.25),  # resampled in aligned segments, many blocks
        (22050, 2, 2.5, 1e6, 0.5),  # one block, another overlap
        (48000, 1, 2.0, 0.3, 0.0),  # no overlap: weights 1
        (96000, 3, 0.8, 0.25, 0.25),
        (44100, 2, 0.002, 1.0, 0.25),  # shorter than one input STFT frame
    ],
)
def test_streaming_equals_the_reference(tiny, masks, rate, channels, seconds, block_seconds, overlap):
    x = _signal(seconds, rate, channels, seed=rate + channels)
    specs = ["vocals", "drums+bass=0.5"]
    sep = Separator(masks, tiny, overlap=overlap, block_seconds=block_seconds)
    streamed = sep.separate(x, rate, specs)
    reference = separate_reference(masks, tiny, x, rate, specs, overlap=overlap)
    assert sep.last_block_count == sep.block_count(len(x), rate)
    for name in specs:
        scale = np.max(np.abs(reference[name]))
        assert reference[name].shape == x.shape and scale > 0
        np.testing.assert_allclose(streamed[name], reference[name], atol=1e-5 * scale, rtol=0, err_msg=name)
    if seconds > 1:
        ratio = reference["vocals"] / (x + 1e-3 * np.sign(x) + 1e-9)
        assert np.std(ratio) > 0.01  # a non-trivial mask: the comparison means something


def test_reference_of_mask_one_returns_the_input(tiny):
    def ones(patches, condition):
        return np.ones(patches.shape[:3], np.float32)

    x = _signal(1.5, 44100, 2, seed=4)
    y = separate_reference(ones, tiny, x, 44100, ["other"])["other"]
    assert np.max(np.abs(y - x)) < 1e-5 * np.max(np.abs(x))
