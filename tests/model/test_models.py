import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import cunet
from cunet.config import load_config
from cunet.model.files import ModelFileError, load_model, read_model_config, save_model
from cunet.model.film import FiLM
from cunet.model.info import model_info
from cunet.model.unet import UNet, build_model, compile_model

# (trainable, total) parameters of the paper configs, computed from the settings of the original
# implementation (github.com/gabolsgabs/cunet); total includes the BatchNorm statistics.
PAPER_COUNTS = {
    "unet-dedicated": (9_823_315, 9_826_325),
    "cunet-simple-dense": (9_844_847, 9_848_497),
    "cunet-complex-dense": (12_159_875, 12_165_445),
    "cunet-simple-cnn": (9_834_703, 9_837_905),
    "cunet-complex-cnn": (10_416_275, 10_419_925),
}

# Tiny versions of the five architectures: same code paths, fast to save and load.
TINY_VARIANTS = {
    "unet": {"type": "unet", "target": "vocals"},
    "simple-dense": {"film": "simple", "control": "dense"},
    "complex-dense": {"film": "complex", "control": "dense"},
    "simple-cnn": {"film": "simple", "control": "cnn", "control_units": [8, 16], "control_padding": ["same", "valid"]},
    "complex-cnn": {
        "film": "complex",
        "control": "cnn",
        "control_units": [8, 16],
        "control_padding": ["same", "valid"],
    },
}


def tiny(variant):
    return load_config("tiny").replace(model=TINY_VARIANTS[variant])


def inputs_for(config, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    magnitude = rng.uniform(0, 1, (batch, config.patch.freq_bins, config.patch.frames, 1)).astype("float32")
    if not config.conditioned:
        return magnitude
    condition = np.zeros((batch, len(config.instruments)), "float32")
    condition[:, 0] = 1
    return [magnitude, condition]


@pytest.mark.parametrize("name", sorted(PAPER_COUNTS))
def test_paper_parameter_counts(name):
    model = build_model(load_config(name), compile=False)
    info = model_info(model)
    assert (info.trainable, info.total) == PAPER_COUNTS[name]
    assert info.unet_trainable == PAPER_COUNTS["unet-dedicated"][0]
    assert info.unet_total == PAPER_COUNTS["unet-dedicated"][1]
    assert not any(isinstance(layer, keras.layers.Lambda) for layer in model.layers)


def test_paper_model_shapes_and_flops():
    model = build_model(load_config("cunet-simple-dense"), compile=False)
    info = model_info(model)
    assert info.input_shapes == {"magnitude": (None, 512, 128, 1), "condition": (None, 4)}
    assert tuple(model.output.shape) == (None, 512, 128, 1)
    # 2 x 5 x 5 x in x out multiply-adds per output position (encoder) or input position
    # (decoder), plus the control network's Dense layers and heads
    encoder = sum(2 * (256 >> i) * (64 >> i) * 25 * ((8 << i) if i else 1) * (16 << i) for i in range(6))
    decoder_in, decoder_out = [512, 512, 256, 128, 64, 32], [256, 128, 64, 32, 16, 1]
    decoder = sum(2 * (8 << i) * (2 << i) * 25 * decoder_in[i] * decoder_out[i] for i in range(6))
    control = 2 * (4 * 16 + 16 * 64 + 64 * 256 + 2 * 256 * 6)
    assert info.flops_per_patch == encoder + decoder + control


def test_film_sits_after_batchnorm_before_activation():
    model = build_model(tiny("complex-dense"), compile=False)
    assert len(model.film_layers) == 3
    for film in model.film_layers:
        batchnorm = film.input[0]._keras_history.operation
        assert isinstance(batchnorm, keras.layers.BatchNormalization)
        assert isinstance(film.output._keras_history.operation, FiLM)
        consumers = [layer for layer in model.layers if getattr(layer, "input", None) is film.output]
        assert len(consumers) == 1 and isinstance(consumers[0], keras.layers.LeakyReLU)


def test_conditions_change_the_output():
    config = tiny("simple-dense")
    model = build_model(config, compile=False)
    # non-trivial FiLM parameters, as after training
    control = model.control_network
    rng = np.random.default_rng(3)
    for weight in control.trainable_weights:
        weight.assign(rng.normal(0, 0.5, weight.shape).astype("float32"))
    magnitude, _ = inputs_for(config, batch=1)
    outputs = []
    for i in range(4):
        condition = np.eye(4, dtype="float32")[i : i + 1]
        first = model([magnitude, condition], training=False)
        again = model([magnitude, condition], training=False)
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(first), keras.ops.convert_to_numpy(again))
        outputs.append(keras.ops.convert_to_numpy(first))
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(outputs[i] - outputs[j]).max() > 1e-4


def test_output_is_mask_times_input():
    config = tiny("complex-cnn")
    model = build_model(config, compile=False)
    x = inputs_for(config)
    mask_model = keras.Model(model.inputs, model.mask_block.mask.output)
    mask = keras.ops.convert_to_numpy(mask_model(x, training=False))
    estimate = keras.ops.convert_to_numpy(model(x, training=False))
    assert mask.min() >= 0 and mask.max() <= 1
    np.testing.assert_allclose(estimate, mask * x[0], rtol=1e-6)


@pytest.mark.parametrize("variant", sorted(TINY_VARIANTS))
def test_keras_round_trip_in_safe_mode(tmp_path, variant):
    config = tiny(variant)
    model = build_model(config, compile=False)
    x = inputs_for(config, seed=1)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-6,
        atol=1e-7,
    )
    assert isinstance(loaded, UNet) and loaded.get_config() == model.get_config()
    clone = UNet.from_config(model.get_config())
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]
    assert clone.get_config() == model.get_config()


def test_one_training_step_changes_weights_and_loss_is_l1():
    config = tiny("simple-dense")
    model = build_model(config, compile=False)
    compile_model(model, config, jit_compile=False)
    x = inputs_for(config, batch=4)
    y = np.zeros((4, 64, 32, 1), "float32")
    expected = np.abs(keras.ops.convert_to_numpy(model(x, training=False))).mean()
    assert model.evaluate(x, y, verbose=0) == pytest.approx(expected, rel=1e-4)
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    assert any(np.abs(a - b).max() > 0 for a, b in zip(before, model.get_weights()))
    assert model.optimizer.beta_1 == pytest.approx(0.5)


def test_model_file_embeds_config_and_refuses_foreign_files(tmp_path):
    config = tiny("complex-dense")
    model = build_model(config)
    path = save_model(model, config, tmp_path / "m.keras")
    assert read_model_config(path) == config
    loaded, loaded_config = load_model(path)
    assert loaded_config == config
    x = inputs_for(config)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x, training=False)),
        keras.ops.convert_to_numpy(model(x, training=False)),
        rtol=1e-6,
    )
    plain = tmp_path / "plain.keras"
    model.save(plain)
    with pytest.raises(ModelFileError, match="not a cunet model"):
        load_model(plain)
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(ModelFileError, match="not a readable"):
        load_model(corrupt)
    with pytest.raises(ModelFileError, match="not found"):
        load_model(tmp_path / "missing.keras")


def test_model_file_loads_in_a_fresh_interpreter(tmp_path):
    # a fresh process has imported no cunet layer module: load_model must register them all
    config = tiny("simple-dense")
    path = save_model(build_model(config), config, tmp_path / "m.keras")
    code = (
        "import sys; from cunet.model.files import load_model; "
        "model, config = load_model(sys.argv[1]); print(model.count_params(), config.name)"
    )
    result = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == [str(build_model(config).count_params()), config.name]


def test_model_code_uses_keras_ops_only():
    package = Path(cunet.__file__).parent / "model"
    for module in ("film.py", "control.py", "unet.py", "parts.py"):
        source = (package / module).read_text()
        assert not re.search(r"^\s*(import|from)\s+(tensorflow|jax|torch)", source, re.M), module
        assert "Lambda" not in source.replace("no `Lambda`", "")


def test_unet_config_round_trip_with_every_argument():
    arguments = dict(
        freq_bins=32,
        frames=16,
        n_layers=2,
        filters=3,
        kernel_size=3,
        decoder_dropout=[True, False],
        dropout_rate=0.25,
        batchnorm_momentum=0.8,
        leaky_relu_slope=0.1,
        init_stddev=0.05,
        n_conditions=3,
        film="complex",
        control="cnn",
        control_units=[4, 6],
        control_kernel_size=2,
        control_padding=["same", "valid"],
        control_dropout=0.3,
    )
    model = UNet(**arguments, name="custom", dtype="float32")
    config = model.get_config()
    assert {k: config[k] for k in arguments} == arguments
    assert config["name"] == "custom" and config["trainable"] is True
    clone = UNet.from_config(config)
    assert clone.get_config() == config
    assert [tuple(w.shape) for w in clone.weights] == [tuple(w.shape) for w in model.weights]
    assert model.conditioned and len(model.film_layers) == 2 and model.control_network.kind == "cnn"
    assert model.mask_block.dropout is None and model.mask_block.deconv.kernel.shape == (3, 3, 1, 6)
    dedicated = UNet(freq_bins=32, frames=16, n_layers=2, filters=3)
    assert not dedicated.conditioned and dedicated.control_network is None and dedicated.film_layers == []
    assert UNet.from_config(dedicated.get_config()).get_config() == dedicated.get_config()
    with pytest.raises(ValueError, match="decoder_dropout"):
        UNet(n_layers=2, decoder_dropout=[True])
    with pytest.raises(ValueError, match="film"):
        UNet(n_layers=2, film="medium")
