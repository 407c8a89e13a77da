"""The model code is backend-neutral: the tiny C-U-Net builds, runs and trains under JAX."""

import importlib.util
import os
import subprocess
import sys

import pytest

SCRIPT = """
import numpy as np, keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from cunet.config import load_config
from cunet.model.unet import build_model
config = load_config("tiny")
model = build_model(config)
from cunet.kernels.switch import use_cpu_kernels
assert use_cpu_kernels(model) is model  # TensorFlow kernels: never under JAX
rng = np.random.default_rng(0)
x = rng.uniform(0, 1, (4, 64, 32, 1)).astype("float32")
c = np.eye(4, dtype="float32")
y = 0.5 * x
out = np.asarray(model([x, c], training=False))
assert out.shape == (4, 64, 32, 1) and np.isfinite(out).all()
before = [w.copy() for w in model.get_weights()]
loss = model.train_on_batch([x, c], y)
assert np.isfinite(loss)
assert any(np.abs(a - b).max() > 0 for a, b in zip(before, model.get_weights()))
print("jax-ok", float(loss))
"""


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installable here")
def test_tiny_cunet_forward_and_train_step_under_jax():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "jax-ok" in result.stdout
