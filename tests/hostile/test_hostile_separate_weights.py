"""Large instrument weights: LiteRT and TensorFlow agree, finite, up to the largest weight a
spec may give (`MAX_WEIGHT`); beyond it specs are refused (LiteRT returns NaN at 1e5)."""

import numpy as np
import pytest

from cunet.errors import CunetError
from cunet.separation.instruments import MAX_WEIGHT
from cunet.separation.runtimes import default_model_path
from cunet.separation.separator import Separator


@pytest.fixture(scope="module")
def runtimes():
    pytest.importorskip("ai_edge_litert", reason="ai-edge-litert is not installed")
    if not default_model_path().with_suffix(".tflite").is_file():
        pytest.skip("the embedded model's .tflite is not installed")
    return Separator.load(runtime="litert"), Separator.load(runtime="tensorflow")


def test_litert_and_tensorflow_agree_at_the_largest_weight(runtimes):
    litert, tensorflow = runtimes
    x = (0.3 * np.random.default_rng(1).standard_normal((44100 * 2, 2))).astype(np.float32)
    w = f"{MAX_WEIGHT:g}"
    specs = [f"vocals={w}", f"bass={w}+drums={w}+other={w}+vocals={w}"]
    a, b = litert.separate(x, 44100, specs), tensorflow.separate(x, 44100, specs)
    for spec in specs:
        assert np.all(np.isfinite(a[spec])) and np.all(np.isfinite(b[spec])), spec
        np.testing.assert_allclose(a[spec], b[spec], atol=1e-4 * np.max(np.abs(b[spec])), err_msg=spec)


@pytest.mark.parametrize("weight", ["10.5", "1e5", "inf", "nan", "-0.1"])
def test_weights_outside_the_range_are_refused(runtimes, weight):
    with pytest.raises(CunetError, match=f"must be 0 to {MAX_WEIGHT:g}, got {weight}"):
        runtimes[0].separate(np.zeros((1000, 2), np.float32), 44100, [f"vocals={weight}"])
