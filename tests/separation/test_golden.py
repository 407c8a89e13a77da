"""The shipped model's separations, pinned: every refactoring must leave them unchanged.

`data/golden_default_model.npz` holds strided samples of what the embedded model writes for
fixed signals (44.1 kHz stereo with every instrument and the residual, a Wiener-filtered sum,
8192 Hz mono with a scaled condition). When the embedded model is replaced, and only then,
write it again from code that passes this test with the old model:
`.venv/bin/python tests/separation/test_golden.py`.
"""

from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "golden_default_model.npz"
STRIDE_44K, STRIDE_8K = 37, 7


def golden_input(rate: int, seconds: float, channels: int) -> np.ndarray:
    rng = np.random.default_rng(1234)
    t = np.arange(int(rate * seconds)) / rate
    x = 0.1 * rng.standard_normal((len(t), channels))
    for f, a in ((110, 0.3), (440, 0.2), (1760, 0.1), (5000, 0.05)):
        x += a * np.sin(2 * np.pi * f * t)[:, None] * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t))[:, None]
    return x.astype(np.float32)


def stereo_every_instrument(separator) -> dict:
    out = separator.separate(golden_input(44100, 3.0, 2), 44100, ["vocals", "drums", "bass", "other"], residual=True)
    return {f"stereo44k_{name}": y[::STRIDE_44K] for name, y in out.items()}


def wiener_sum(separator) -> dict:
    out = separator.separate(golden_input(44100, 3.0, 2), 44100, ["vocals+drums"], wiener=True)
    return {"wiener_vocals+drums": out["vocals+drums"][::STRIDE_44K]}


def mono_model_rate_scaled_condition(separator) -> dict:
    out = separator.separate(golden_input(8192, 5.0, 1)[:, 0], 8192, ["bass=0.5"])
    return {"mono8k_bass=0.5": out["bass=0.5"][::STRIDE_8K]}


CASES = (stereo_every_instrument, wiener_sum, mono_model_rate_scaled_condition)


@pytest.fixture(scope="module")
def separator():
    from cunet import Separator

    return Separator.load()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_shipped_model_separations_unchanged(separator, case):
    golden = np.load(GOLDEN)
    for key, estimate in case(separator).items():
        np.testing.assert_allclose(estimate, golden[key], atol=2e-5, rtol=0, err_msg=key)


if __name__ == "__main__":
    from cunet import Separator

    shipped = Separator.load()
    np.savez_compressed(GOLDEN, **{k: v for case in CASES for k, v in case(shipped).items()})
    print(f"wrote {GOLDEN} ({shipped.runtime})")
