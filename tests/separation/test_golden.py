"""The shipped model's separations, pinned: every refactoring must leave them unchanged.

`data/golden_default_model.npz` holds strided samples of what the embedded model wrote for
fixed signals before the package was reorganized (44.1 kHz stereo with every instrument and
the residual, a Wiener-filtered sum, 8192 Hz mono with a scaled condition).
"""

from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden_default_model.npz"


def golden_input(rate: int, seconds: float, channels: int) -> np.ndarray:
    rng = np.random.default_rng(1234)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.1 * rng.standard_normal((len(t), channels))
    for f, a in ((110, 0.3), (440, 0.2), (1760, 0.1), (5000, 0.05)):
        x += a * np.sin(2 * np.pi * f * t)[:, None] * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))[:, None]
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def separator():
    from cunet import Separator

    return Separator.load()


def _check(golden, key, estimate, stride):
    np.testing.assert_allclose(estimate[::stride], golden[key], atol=2e-5, rtol=0, err_msg=key)


def test_shipped_model_stereo_every_instrument(separator):
    golden = np.load(GOLDEN)
    out = separator.separate(golden_input(44100, 3.0, 2), 44100, ["vocals", "drums", "bass", "other"], residual=True)
    for name, y in out.items():
        _check(golden, f"stereo44k_{name}", y, 37)


def test_shipped_model_wiener_sum(separator):
    golden = np.load(GOLDEN)
    out = separator.separate(golden_input(44100, 3.0, 2), 44100, ["vocals+drums"], wiener=True)
    _check(golden, "wiener_vocals+drums", out["vocals+drums"], 37)


def test_shipped_model_mono_model_rate_scaled_condition(separator):
    golden = np.load(GOLDEN)
    out = separator.separate(golden_input(8192, 5.0, 1)[:, 0], 8192, ["bass=0.5"])
    _check(golden, "mono8k_bass=0.5", out["bass=0.5"], 7)
