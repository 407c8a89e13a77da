"""The CPU-kernel switch: CPU forms on a CPU equal to the stock layers, stock classes in files."""

import json
import zipfile

import keras
import numpy as np
import pytest

from cunet.config import load_config
from cunet.kernels.batchnorm import FusedBatchNorm
from cunet.kernels.convolutions import StridedConv2D, StridedConv2DTranspose
from cunet.kernels.switch import cpu_kernels_apply, use_cpu_kernels, uses_cpu_kernels
from cunet.model.files import load_model, save_model
from cunet.model.parts import stock_model
from cunet.model.unet import UNet, build_model

CPU_FORMS = (StridedConv2D, StridedConv2DTranspose, FusedBatchNorm)


def _gpu_visible():
    import tensorflow as tf

    return bool(tf.config.get_visible_devices("GPU"))


def _inputs(config, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (batch, config.patch.freq_bins, config.patch.frames, 1)).astype("float32")
    return [x, np.eye(len(config.instruments), dtype="float32")[rng.integers(0, 4, batch)]]


def _class_names(path):
    """Every class_name in a .keras file's config.json."""
    with zipfile.ZipFile(path) as archive:
        text = archive.read("config.json").decode()
    names = []

    def walk(node):
        if isinstance(node, dict):
            if "class_name" in node:
                names.append(node["class_name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(text))
    return names


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    return load_config("tiny")


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the CPU forms are TensorFlow kernels")
def test_on_a_cpu_the_switch_gives_the_cpu_forms_with_equal_outputs(tiny):
    if _gpu_visible():
        pytest.skip("a GPU is visible: the switch must leave the model alone (next test)")
    model = build_model(tiny, compile=False)
    assert cpu_kernels_apply(model)
    fast = use_cpu_kernels(model)
    assert fast is not model and uses_cpu_kernels(fast) and not uses_cpu_kernels(model)
    stock_convs = [
        layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))
    ]
    fast_convs = [layer for layer in fast.layers if isinstance(layer, (StridedConv2D, StridedConv2DTranspose))]
    assert len(fast_convs) == len(stock_convs) == 2 * tiny.model.n_layers
    assert [tuple(w.shape) for w in fast.weights] == [tuple(w.shape) for w in model.weights]
    for a, b in zip(model.get_weights(), fast.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = _inputs(tiny)
    np.testing.assert_allclose(fast(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-6)
    # training mode (batch statistics), gradients of an L1 loss: equal (no dropout, so that
    # both models compute the same function)
    import tensorflow as tf

    config = tiny.replace(model={"decoder_dropout": [False] * tiny.model.n_layers, "control_dropout": 0.0})
    model = build_model(config, compile=False)
    fast = use_cpu_kernels(model)
    grads = []
    for m in (model, fast):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(m(x, training=True)))
        grads.append(tape.gradient(loss, m.trainable_weights))
    assert len(grads[0]) == len(grads[1]) > 0
    for a, b in zip(*grads):
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)  # biases before a BatchNorm: ~0


def test_the_switch_leaves_other_devices_and_dtypes_alone(tiny, monkeypatch):
    model = build_model(tiny, compile=False)
    assert use_cpu_kernels(model, "stock") is model
    mixed = UNet(freq_bins=64, frames=32, n_layers=3, filters=4, dtype="mixed_bfloat16")
    assert not cpu_kernels_apply(mixed) and use_cpu_kernels(mixed) is mixed
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        real = tf.config.get_visible_devices
        monkeypatch.setattr(
            tf.config, "get_visible_devices", lambda kind=None: ["/GPU:0"] if kind == "GPU" else real(kind)
        )
        assert not cpu_kernels_apply(model) and use_cpu_kernels(model) is model
    with pytest.raises(ValueError, match="mode"):
        use_cpu_kernels(model, "fast")


def test_saved_files_hold_only_stock_classes(tiny, tmp_path):
    model = build_model(tiny, compile=False)
    fast = use_cpu_kernels(model, "cpu")  # as a model trained on a CPU is
    x = _inputs(tiny)
    path = save_model(fast, tiny, tmp_path / "m.keras")
    names = _class_names(path)
    assert names[0] == "UNet"
    assert not {"StridedConv2D", "StridedConv2DTranspose", "FusedBatchNorm", "Functional"} & set(names)
    loaded, _ = load_model(path)
    assert isinstance(loaded, UNet) and not uses_cpu_kernels(loaded)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), rtol=1e-5, atol=1e-6)
    assert stock_model(model, tiny) is model


def test_old_dialect_file_with_cpu_form_classes_loads_as_a_stock_unet(tiny, tmp_path):
    """Files saved before the UNet class: a plain functional model holding the CPU forms."""
    model = build_model(tiny, compile=False)
    old = use_cpu_kernels(model, "cpu")
    path = tmp_path / "old.keras"
    old.save(path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("cunet-config.yaml", __import__("yaml").safe_dump(tiny.to_dict(), sort_keys=False))
    assert {"Functional", "StridedConv2D", "FusedBatchNorm"} <= set(_class_names(path))
    loaded, config = load_model(path)
    assert isinstance(loaded, UNet) and not uses_cpu_kernels(loaded) and config == tiny
    assert loaded.mask_block.deconv.filters == 1 and loaded.control_network is not None
    x = _inputs(tiny, seed=2)
    np.testing.assert_allclose(loaded(x, training=False), old(x, training=False), rtol=1e-5, atol=1e-6)


def test_resume_weights_load_across_forms(tiny, tmp_path):
    """A run started in the CPU forms resumes in stock layers (another device) and the reverse."""
    from cunet.kernels.switch import load_weights_either_form
    from cunet.model.parts import other_form
    from cunet.training.step import waveform_model

    keras.utils.set_random_seed(5)
    model = build_model(tiny, compile=False)
    for written_by in (use_cpu_kernels(model, "cpu"), model):
        writer = waveform_model(written_by, tiny)
        writer.optimizer.build(writer.trainable_variables)
        for v in writer.optimizer.variables:
            v.assign(np.full(v.shape, 0.125, v.dtype))
        path = tmp_path / f"{uses_cpu_kernels(written_by)}.weights.h5"
        writer.save_weights(path)
        fresh = build_model(tiny, compile=False)
        reader_model = fresh if uses_cpu_kernels(written_by) else use_cpu_kernels(fresh, "cpu")
        reader = waveform_model(reader_model, tiny)
        reader.optimizer.build(reader.trainable_variables)
        with pytest.raises(ValueError):
            reader.load_weights(path)  # Keras alone cannot
        load_weights_either_form(reader, path, lambda m=reader_model: waveform_model(other_form(m, tiny), tiny))
        for a, b in zip(reader.get_weights(), writer.get_weights()):
            np.testing.assert_array_equal(a, b)
        for a, b in zip(reader.optimizer.variables, writer.optimizer.variables):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
