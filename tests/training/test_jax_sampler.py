"""The NumPy sampler (`cunet.training.sampler`) draws batches as the tf.data pipeline does:
the same mixtures and targets for the same draws, the same distributions of draws."""

import importlib.util

import numpy as np
import pytest

from cunet.training.cache import open_cache
from cunet.training.sampler import HostBank, chunk_samples, render, sample_draws, training_batches, validation_batches

pytestmark = pytest.mark.jax
needs_tensorflow = pytest.mark.skipif(
    importlib.util.find_spec("tensorflow") is None, reason="the comparison with the tf.data pipeline needs TensorFlow"
)


@pytest.fixture(scope="module")
def host_bank(tiny):
    """Three tracks of noise (no cache: a GPU machine lacks what `cunet prepare` needs)."""
    rng = np.random.default_rng(0)
    arrays = [0.1 * rng.standard_normal((n, 4)).astype(np.float32) for n in (9000, 12000, 15000)]
    return HostBank(arrays, ["a", "b", "c"], 64)


@needs_tensorflow
@pytest.mark.parametrize("storage", ["float32", "int16"])
def test_render_equals_the_pipeline_render_for_the_same_draws(cache_dir, tiny, storage):
    tf = pytest.importorskip("tensorflow")
    from cunet.training import data

    config = tiny.replace(
        data={
            "storage": storage,
            "remix_probability": 0.5,
            "progressive_probability": 0.5,
            "gain_db_range": [-6.0, 3.0],
        }
    )
    cache = open_cache(cache_dir, config)
    tf_bank, np_bank = data.load_bank(cache, "train", config), HostBank.from_cache(cache, "train", config)
    np.testing.assert_array_equal(np_bank.track_lengths, tf_bank.track_lengths.numpy())
    draws = {k: v.numpy() for k, v in data.sample_draws(tf.constant([3, 1], tf.int64), 16, tf_bank, config).items()}
    expected = [t.numpy() for t in data.render(tf_bank, draws, config)]
    got = render(np_bank, draws, config)
    for a, b in zip(got, expected):
        assert a.shape == b.shape == (16, chunk_samples(config)) and a.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=1e-6)
        assert np.abs(b).max() > 0.01


@needs_tensorflow
def test_validation_batches_equal_the_pipeline(cache_dir, tiny):
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from cunet.training import data

    config = tiny.replace(data={"valid_fraction": 0.5})
    expected = list(
        data.validation_dataset(
            config, cache_dir, batch_size=5, bank=data.load_bank(open_cache(cache_dir, config), "train", config)
        )
    )
    got = validation_batches(config, HostBank.from_cache(open_cache(cache_dir, config), "train", config), 5)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        for x, y in zip(tf.nest.flatten(a), tf.nest.flatten(b)):
            np.testing.assert_allclose(x, y.numpy(), atol=1e-6)


def wild(tiny):
    return tiny.replace(data={"remix_probability": 0.5, "progressive_probability": 0.5, "gain_db_range": [-6.0, 3.0]})


def test_draws_follow_the_config(tiny, host_bank):
    config = wild(tiny)
    draws = sample_draws(np.random.default_rng(0), 16384, host_bank, config)
    assert draws["track"].dtype == draws["offset"].dtype == np.int32
    lengths = host_bank.track_lengths[draws["track"]]
    assert np.all(draws["offset"] % host_bank.block == 0) and np.all(draws["offset"] >= 0)
    assert np.all(draws["offset"] + chunk_samples(config) <= lengths)
    gain_db = 20 * np.log10(draws["gain"])
    assert gain_db.min() >= -6.0 - 1e-4 and gain_db.max() <= 3.0 + 1e-4
    for row, targets in zip(draws["track"], draws["condition"] > 0):
        if targets.sum() > 1:
            assert len(set(row[targets])) == 1  # target stems stay together


@needs_tensorflow
def test_draws_follow_the_pipeline_distributions(tiny, host_bank):
    import tensorflow as tf

    from cunet.training import data

    config = wild(tiny)
    draws = sample_draws(np.random.default_rng(0), 16384, host_bank, config)
    lengths = host_bank.track_lengths[draws["track"]]

    tf_bank = data.StemBank.from_arrays(
        [host_bank.stems[:, s : s + n].T for s, n in zip(host_bank.track_starts, host_bank.track_lengths)],
        host_bank.names,
        host_bank.block,
    )
    reference = {
        k: v.numpy() for k, v in data.sample_draws(tf.constant([7, 0], tf.int64), 16384, tf_bank, config).items()
    }

    def statistics(d):
        remixed = (d["track"] != d["track"][np.arange(len(d["track"])), d["condition"].argmax(1)][:, None]).mean()
        return np.array(
            [
                *d["condition"].mean(0),
                (d["condition"] == 0).all(1).mean(),
                20 * np.log10(d["gain"]).mean() / 10,
                d["offset"].mean() / lengths.mean(),
                remixed,
            ]
        )

    np.testing.assert_allclose(statistics(draws), statistics(reference), atol=0.015)


def test_training_batches_are_seeded_in_the_pipeline_structure(tiny, host_bank):
    first = next(training_batches(tiny, host_bank, batch_size=4, seed=1))
    again = next(training_batches(tiny, host_bank, batch_size=4, seed=1))
    other = next(training_batches(tiny, host_bank, batch_size=4, seed=2))
    (mixture, condition), target = first
    assert mixture.shape == target.shape == (4, chunk_samples(tiny)) and condition.shape == (4, 4)
    np.testing.assert_array_equal(mixture, again[0][0])
    assert not np.allclose(mixture, other[0][0])
