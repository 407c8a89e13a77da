"""The JAX path on JAX's default device (the GPU on a GPU machine), without TensorFlow:
a training step, save and load, masks equal to JAX on the CPU within 1e-3, a sampler-fed step.

These run where TensorFlow is absent (scripts/gpu_check.sh: `pytest -m jax tests/training/test_jax_device.py`).
Where JAX's only device is the CPU they would compare the CPU with itself, and
tests/training/test_jax_backend.py already trains, saves and separates on JAX there: they are skipped
unless CUNET_DEVICE_TESTS=1 (gpu_check.sh sets it, so its trial on a CPU runs them too).
"""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest


def _accelerator_or_asked() -> bool:
    if os.environ.get("CUNET_DEVICE_TESTS") == "1":
        return True
    probe = "import jax; print(jax.default_backend())"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    return result.returncode == 0 and result.stdout.strip() not in ("", "cpu")


pytestmark = [
    pytest.mark.jax,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installable here"),
    pytest.mark.skipif(
        importlib.util.find_spec("jax") is not None and not _accelerator_or_asked(),
        reason="JAX's only device is the CPU (test_jax_backend covers it); CUNET_DEVICE_TESTS=1 runs them",
    ),
]

REPO = Path(__file__).resolve().parents[2]


def run_jax(script: str, cpu: bool) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "PYTHONPATH": os.pathsep.join([str(REPO), *os.environ.get("PYTHONPATH", "").split(os.pathsep)]),
    }
    env.pop("JAX_PLATFORMS", None)
    if cpu:
        env["JAX_PLATFORMS"] = "cpu"
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=600
    )


def test_train_step_save_and_load_on_the_default_device(tmp_path):
    result = run_jax(
        f"""
        import jax, keras, numpy as np
        from cunet.config import load_config
        from cunet.model.files import load_model, save_model
        from cunet.model.unet import build_model
        from cunet.training.step import waveform_model
        config = load_config("tiny")
        model = build_model(config, compile=False)
        trainer = waveform_model(model, config, jit_compile=True)
        rng = np.random.default_rng(0)
        mixture = rng.standard_normal((4, trainer.inputs[0].shape[1])).astype("float32") * 0.3
        condition = np.eye(4, dtype="float32")
        losses = [float(trainer.train_on_batch([mixture, condition], 0.9 * mixture)) for _ in range(5)]
        assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
        path = save_model(model, config, {str(tmp_path / "m.keras")!r})
        loaded, loaded_config = load_model(path)
        x = rng.uniform(0, 1, (2, 64, 32, 1)).astype("float32")
        a = np.asarray(model([x, condition[:2]], training=False))
        b = np.asarray(loaded([x, condition[:2]], training=False))
        assert loaded_config == config and np.abs(a - b).max() < 1e-6, np.abs(a - b).max()
        print("device-ok", jax.devices()[0].platform)
    """,
        cpu=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "device-ok" in result.stdout


MASKS = """
    import numpy as np
    from cunet.separation.runtimes import load_masks
    masks, config = load_masks(None, "jax", batch_size=4)
    x = np.random.default_rng(0).uniform(0, 1, (6, config.patch.freq_bins, config.patch.frames, 1))
    np.save({out!r}, masks(x.astype("float32"), np.array([0, 1, 0, 0], np.float32)))
"""


def test_masks_on_the_default_device_equal_the_cpu(tmp_path):
    for cpu, name in ((False, "device.npy"), (True, "cpu.npy")):
        result = run_jax(MASKS.format(out=str(tmp_path / name)), cpu=cpu)
        assert result.returncode == 0, result.stderr[-3000:]
    device, cpu = np.load(tmp_path / "device.npy"), np.load(tmp_path / "cpu.npy")
    assert device.shape == (6, 512, 128) and cpu.std() > 0.01
    np.testing.assert_allclose(device, cpu, atol=1e-3)


def test_a_sampler_fed_step_on_the_default_device():
    result = run_jax(
        """
        import keras, numpy as np
        from cunet.config import load_config
        from cunet.model.unet import build_model
        from cunet.training.sampler import HostBank, training_batches
        from cunet.training.step import waveform_model
        config = load_config("tiny")
        rng = np.random.default_rng(0)
        bank = HostBank([0.1 * rng.standard_normal((n, 4)).astype("float32") for n in (9000, 12000)],
                        ["a", "b"], 64)
        trainer = waveform_model(build_model(config, compile=False), config, jit_compile=True)
        batches = training_batches(config, bank, seed=0)
        losses = [float(trainer.train_on_batch(*next(batches))) for _ in range(3)]
        assert all(np.isfinite(losses)), losses
        print("sampler-ok", losses)
    """,
        cpu=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sampler-ok" in result.stdout
