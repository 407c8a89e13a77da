import keras
import numpy as np
import pytest
import tensorflow as tf

from cunet.model.control import ControlNetwork
from cunet.model.film import FiLM


def film_reference(x, gamma, beta):
    return gamma[:, None, None, :] * x + beta[:, None, None, :]


@pytest.mark.parametrize("gamma_channels", [5, 1])
def test_film_matches_numpy_reference(gamma_channels):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 7, 4, 5)).astype("float32")
    gamma = rng.standard_normal((3, gamma_channels)).astype("float32")
    beta = rng.standard_normal((3, gamma_channels)).astype("float32")
    out = keras.ops.convert_to_numpy(FiLM()([x, gamma, beta]))
    np.testing.assert_allclose(out, film_reference(x, gamma, beta), rtol=1e-6, atol=1e-6)


def test_film_gradients_reach_gamma_and_beta():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((2, 4, 3, 6)), tf.float32)
    gamma = tf.Variable(rng.standard_normal((2, 6)), dtype=tf.float32)
    beta = tf.Variable(rng.standard_normal((2, 6)), dtype=tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(FiLM()([x, gamma, beta]) ** 2)
    d_gamma, d_beta = tape.gradient(loss, [gamma, beta])
    out = film_reference(x.numpy(), gamma.numpy(), beta.numpy())
    np.testing.assert_allclose(d_gamma.numpy(), (2 * out * x.numpy()).sum(axis=(1, 2)), rtol=1e-4)
    np.testing.assert_allclose(d_beta.numpy(), (2 * out).sum(axis=(1, 2)), rtol=1e-4)


def test_film_symbolic_shape_and_config_round_trip():
    x = keras.Input((8, 4, 3))
    g = keras.Input((1,))
    out = FiLM(name="f")([x, g, g])
    assert tuple(out.shape) == (None, 8, 4, 3)
    layer = FiLM(name="f")
    clone = FiLM.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize(
    "kind, units, sizes, expected_trainable",
    [
        # The control networks of the paper configs: their models' counts minus the dedicated U-Net's.
        ("dense", [16, 64, 256], [1] * 6, 21_532),
        ("dense", [16, 256, 1024], [16, 32, 64, 128, 256, 512], 2_336_560),
        ("cnn", [16, 32, 64], [1] * 6, 11_388),
        ("cnn", [32, 64, 256], [16, 32, 64, 128, 256, 512], 592_960),
    ],
)
def test_control_network_sizes(kind, units, sizes, expected_trainable):
    control = ControlNetwork(sizes, units, kind=kind, padding=["same", "same", "valid"])
    gammas, betas = control(keras.ops.ones((2, 4)))
    assert [tuple(g.shape) for g in gammas] == [(2, s) for s in sizes]
    assert [tuple(b.shape) for b in betas] == [(2, s) for s in sizes]
    trainable = sum(int(np.prod(w.shape)) for w in control.trainable_weights)
    assert trainable == expected_trainable


def test_control_network_config_round_trip_rebuilds_same_outputs():
    control = ControlNetwork([2, 3], [8, 16], kind="cnn", padding=["same", "valid"], kernel_size=4)
    condition = np.eye(4, dtype="float32")
    gammas, _ = control(condition, training=False)
    clone = ControlNetwork.from_config(control.get_config())
    clone.build((None, 4))
    clone.set_weights(control.get_weights())
    clone_gammas, _ = clone(condition, training=False)
    for a, b in zip(gammas, clone_gammas):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_control_network_rejects_unknown_kind():
    with pytest.raises(ValueError, match="kind"):
        ControlNetwork([1], [4], kind="rnn")
