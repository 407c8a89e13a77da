"""The JAX backend path, checked against TensorFlow: the model trains under JAX, `cunet train
--backend jax` runs, resumes and saves models TensorFlow and LiteRT separate with, a training
step equals TensorFlow's from the same weights, JAX masks equal TensorFlow's.

JAX runs in subprocesses (`KERAS_BACKEND=jax`, CPU); TensorFlow in this process.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = [
    pytest.mark.jax,
    pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installable here"),
]

REPO = Path(__file__).resolve().parents[2]


def run_jax(script: str, *args, timeout: int = 300) -> subprocess.CompletedProcess:
    """`script` (Python source) or `cunet` command-line `args` in a JAX-backend subprocess."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", textwrap.dedent(script)] if script else [sys.executable, "-m", "cunet", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


TRAIN_STEP = """
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


def test_tiny_cunet_forward_and_train_step_under_jax():
    result = run_jax(TRAIN_STEP)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "jax-ok" in result.stdout


def no_dropout(tiny):
    return tiny.replace(model={"decoder_dropout": [False, False, False], "control_dropout": 0.0})


STEPS_FROM = """
import sys, numpy as np, keras
from cunet.config import load_config
from cunet.training.step import waveform_model
from cunet.model.unet import build_model
config = load_config(sys.argv[1])
trainer = waveform_model(build_model(config, compile=False), config, jit_compile=True)
trainer.compile(optimizer=keras.optimizers.SGD(2.0), loss=trainer.loss)
trainer.load_weights(sys.argv[2])
batch = np.load(sys.argv[3])
losses = [float(trainer.train_on_batch([batch["mixture"], batch["condition"]], batch["target"]))
          for _ in range(3)]
np.save(sys.argv[4], np.concatenate([losses, np.concatenate([w.ravel() for w in trainer.get_weights()])]))
"""


def test_a_training_step_equals_tensorflow_from_the_same_weights(tiny, tmp_path):
    """Front end, loss and gradients: three SGD steps on one batch, the same losses and weights."""
    import keras

    from cunet.config import save_config
    from cunet.model.unet import build_model
    from cunet.training.step import waveform_model

    config = no_dropout(tiny)
    save_config(config, tmp_path / "config.yaml")
    keras.utils.set_random_seed(3)
    trainer = waveform_model(build_model(config, compile=False), config)
    # plain SGD: Adam's first steps amplify rounding noise of near-zero gradients into lr-sized moves
    trainer.compile(optimizer=keras.optimizers.SGD(2.0), loss=trainer.loss)
    trainer.save_weights(tmp_path / "start.weights.h5")
    rng = np.random.default_rng(0)
    samples = trainer.inputs[0].shape[1]
    mixture = rng.standard_normal((4, samples)).astype("float32") * 0.3
    condition = np.eye(4, dtype="float32")[[0, 1, 2, 3]]
    np.savez(tmp_path / "batch.npz", mixture=mixture, condition=condition, target=0.9 * mixture)
    losses = [float(trainer.train_on_batch([mixture, condition], 0.9 * mixture)) for _ in range(3)]
    weights = np.concatenate([w.ravel() for w in trainer.get_weights()])

    script = STEPS_FROM.replace("sys.argv[1]", repr(str(tmp_path / "config.yaml")))
    for i, name in enumerate(("start.weights.h5", "batch.npz", "jax.npy"), start=2):
        script = script.replace(f"sys.argv[{i}]", repr(str(tmp_path / name)))
    result = run_jax(script)
    assert result.returncode == 0, result.stderr[-2000:]
    jax_out = np.load(tmp_path / "jax.npy")
    np.testing.assert_allclose(jax_out[:3], losses, rtol=1e-4)
    assert losses[2] < losses[0]  # the steps learn
    np.testing.assert_allclose(jax_out[3:], weights, atol=1e-4)


def test_cunet_train_backend_jax_trains_resumes_and_saves_models_tensorflow_separates_with(cache_dir, tiny, tmp_path):
    from cunet.model.files import load_model
    from cunet.separation.masks import TensorFlowMasks

    run_dir = tmp_path / "run"
    common = [
        "train",
        "--backend",
        "jax",
        "--config",
        "tiny",
        "--data",
        str(cache_dir),
        "--out",
        str(run_dir),
        "--steps-per-epoch",
        "2",
        "--epochs",
        "2",
        "--no-tensorboard",
        "--quiet",
    ]
    first = run_jax(None, *common, "--time-limit", "0.0001")  # stops after its first epoch
    assert first.returncode == 0, first.stderr[-2000:]
    assert not json.loads((run_dir / "resume" / "state.json").read_text()).get("finished")
    again = run_jax(None, *common)
    assert again.returncode == 0, again.stderr[-2000:]
    rows = (run_dir / "training.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1"]  # the second call resumed at epoch 1
    assert json.loads((run_dir / "run.json").read_text())["keras_backend"] == "jax"
    state = json.loads((run_dir / "resume" / "state.json").read_text())
    assert state["epoch"] == 2 and state["finished"]

    model, config = load_model(run_dir / "best.keras")  # saved on JAX, loaded on TensorFlow
    patches = np.random.default_rng(1).uniform(0, 1, (5, 64, 32, 1)).astype("float32")
    condition = np.array([0, 1, 0, 0], np.float32)
    tf_masks = TensorFlowMasks(model, config)(patches, condition)
    np.save(tmp_path / "patches.npy", patches)
    result = run_jax(f"""
        import numpy as np
        from cunet.separation.runtimes import load_masks
        masks, _ = load_masks({str(run_dir / "best.keras")!r}, "jax", batch_size=4)
        np.save({str(tmp_path / "jax.npy")!r}, masks(np.load({str(tmp_path / "patches.npy")!r}),
                np.array([0, 1, 0, 0], np.float32)))
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    jax_masks = np.load(tmp_path / "jax.npy")
    np.testing.assert_allclose(jax_masks, tf_masks, atol=1e-4)
    # a model trained 4 steps is near 0.5 everywhere: its variations agree too
    assert np.corrcoef(jax_masks.ravel(), tf_masks.ravel())[0, 1] > 0.999

    from cunet.model.export import export_tflite
    from cunet.separation.litert import LiteRTMasks, litert_available

    if litert_available():
        export_tflite(model, config, tmp_path / "best.tflite", source=run_dir / "best.keras")
        np.testing.assert_allclose(
            LiteRTMasks(tmp_path / "best.tflite", config)(patches, condition), tf_masks, atol=1e-4
        )


def test_jax_masks_equal_tensorflow_masks_of_the_shipped_model(tmp_path):
    """The shipped model (trained on TensorFlow) on JAX: the same masks within 1e-4."""
    from cunet.separation.runtimes import load_masks

    masks, config = load_masks(None, "tensorflow")
    patches = np.random.default_rng(2).uniform(0, 1, (3, config.patch.freq_bins, config.patch.frames, 1))
    patches = patches.astype("float32")
    np.save(tmp_path / "patches.npy", patches)
    expected = masks(patches, np.array([0, 0, 0, 1], np.float32))
    result = run_jax(f"""
        import numpy as np
        from cunet.separation.runtimes import load_masks
        masks, _ = load_masks(None, "jax", batch_size=2)  # a padded last batch
        out = masks(np.load({str(tmp_path / "patches.npy")!r}), np.array([0, 0, 0, 1], np.float32))
        assert out.shape == (3, *np.load({str(tmp_path / "patches.npy")!r}).shape[1:3]), out.shape
        np.save({str(tmp_path / "jax.npy")!r}, out)
    """)
    assert result.returncode == 0, result.stderr[-2000:]
    got = np.load(tmp_path / "jax.npy")
    assert got.shape == expected.shape == (3, config.patch.freq_bins, config.patch.frames)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_separate_backend_jax_writes_what_tensorflow_writes(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(4)
    sf.write(tmp_path / "song.wav", (0.1 * rng.standard_normal((3 * 22050, 2))).astype("float32"), 22050)
    outputs = {}
    for backend in ("tensorflow", "jax"):
        result = run_jax(
            None,
            "separate",
            str(tmp_path / "song.wav"),
            "-i",
            "vocals",
            "--backend",
            backend,
            "-o",
            str(tmp_path / backend),
        )
        assert result.returncode == 0, result.stderr[-2000:]
        outputs[backend], _ = sf.read(tmp_path / backend / "song" / "vocals.wav")
    np.testing.assert_allclose(outputs["jax"], outputs["tensorflow"], atol=1e-3)


def test_tf_distribute_strategies_are_refused_with_jax_in_one_line(cache_dir, tmp_path):
    result = run_jax(
        None,
        "train",
        "--backend",
        "jax",
        "--strategy",
        "mirrored",
        "--config",
        "tiny",
        "--data",
        str(cache_dir),
        "--out",
        str(tmp_path / "run"),
    )
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "tf.distribute" in line and "TensorFlow only" in line
    assert not (tmp_path / "run").exists()
