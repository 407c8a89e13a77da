"""The tf.data pipeline: mixtures and targets are the right waveforms (whose magnitudes the
training step computes), the graph is pure TensorFlow."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from cunet.audio import spectral
from cunet.config import load_config
from cunet.errors import CunetError
from cunet.training.cache import open_cache
from cunet.training.conditions import condition_table
from cunet.training.data import (
    chunk_samples,
    load_bank,
    render,
    sample_draws,
    training_dataset,
    validation_dataset,
    validation_draws,
)
from cunet.training.step import MagnitudePatch

PLAIN = {"remix_probability": 0.0, "progressive_probability": 0.0, "gain_db_range": [0.0, 0.0]}


@pytest.fixture(scope="module")
def bank(cache_dir, tiny):
    return load_bank(open_cache(cache_dir, tiny), "train", tiny)


def reference_patch(signal, config):
    """The model-layout magnitude of a NumPy signal, straight through cunet.audio.spectral."""
    return spectral.to_patch(spectral.model_magnitude(signal, config.audio), config.patch.freq_bins).numpy()


def chunk_of(cache_dir, config, bank, track, offset):
    """(L, S) samples of a track read from its cached .npy file."""
    cache = open_cache(cache_dir, config)
    (entry,) = [t for t in cache.tracks if t.name == bank.names[track]]
    return np.asarray(cache.read_track(entry))[offset : offset + chunk_samples(config)]


def draws_for(rows, n_stems=4):
    """Explicit draws: rows of (tracks per stem, offsets per stem, gains, condition)."""
    keys = ("track", "offset", "gain", "condition")
    out = {k: [] for k in keys}
    for track, offset, gain, condition in rows:
        out["track"].append(np.broadcast_to(track, n_stems))
        out["offset"].append(np.broadcast_to(offset, n_stems))
        out["gain"].append(np.broadcast_to(gain, n_stems))
        out["condition"].append(condition)
    dtypes = {"track": np.int32, "offset": np.int32, "gain": np.float32, "condition": np.float32}
    return {k: tf.constant(np.array(v, dtype=dtypes[k])) for k, v in out.items()}


def test_targets_are_the_conditioned_stems_and_their_magnitudes(cache_dir, tiny, bank):
    vocals, bass_drums, zero = [0, 0, 0, 1.0], [1.0, 1.0, 0, 0], [0.0] * 4
    offset = 7 * bank.block
    draws = draws_for([(1, offset, 1.0, vocals), (1, offset, 1.0, bass_drums), (1, offset, 1.0, zero)])
    mixture, target = (t.numpy() for t in render(bank, draws, tiny))
    chunk = chunk_of(cache_dir, tiny, bank, 1, offset)
    assert mixture.shape == target.shape == (3, chunk_samples(tiny))
    np.testing.assert_allclose(target[0], chunk[:, 3], atol=1e-6)
    np.testing.assert_allclose(target[1], chunk[:, 0] + chunk[:, 1], atol=1e-6)
    assert np.all(target[2] == 0.0)
    for row in mixture:
        np.testing.assert_allclose(row, chunk.sum(axis=1), atol=1e-6)
    # what the training step makes of them: the magnitudes separation computes
    patches = MagnitudePatch(tiny.audio, tiny.patch.freq_bins)(target).numpy()
    assert patches.shape == (3, 64, 32, 1)
    np.testing.assert_allclose(patches[0], reference_patch(chunk[:, 3], tiny), atol=1e-5)
    np.testing.assert_allclose(patches[1], reference_patch(chunk[:, 0] + chunk[:, 1], tiny), atol=1e-5)
    assert np.abs(patches[1] - reference_patch(chunk[:, 0], tiny)).max() > 1e-2  # drums count
    assert np.all(patches[2] == 0.0) and patches[0].max() > 1e-2


def test_training_loss_is_l1_between_estimate_and_target_magnitude(cache_dir, tiny):
    from cunet.model.unet import build_model
    from cunet.training.step import waveform_model

    (mixture, condition), target = next(iter(training_dataset(tiny, cache_dir, batch_size=4, seed=3)))
    trainer = waveform_model(build_model(tiny, compile=False), tiny)
    estimate = trainer([mixture, condition]).numpy()
    reference = np.stack([reference_patch(t, tiny) for t in target.numpy()])
    expected = np.abs(reference - estimate).mean()
    assert expected > 0
    loss = trainer.evaluate((mixture, condition), target, verbose=0)
    assert loss == pytest.approx(expected, rel=1e-4)


def test_progressive_gain_and_remix_follow_the_draws(cache_dir, tiny, bank):
    p = 0.3
    gains = np.array([0.5, 2.0, 1.0, 0.8], np.float32)
    offsets = np.array([0, 3, 5, 9]) * bank.block
    draws = draws_for([(0, 0, 1.0, [0, 0, 0, 1.0]), (0, 0, 1.0, [0, 0, 0, p]), (0, 0, gains, [0, 1.0, 0, 0])])
    # example 3: each stem from another track and offset (a remix)
    draws["track"] = tf.tensor_scatter_nd_update(draws["track"], [[2]], tf.constant([[0, 1, 0, 1]], tf.int32))
    draws["offset"] = tf.tensor_scatter_nd_update(draws["offset"], [[2]], tf.constant([offsets], tf.int32))
    mixture, target = (t.numpy() for t in render(bank, draws, tiny))
    np.testing.assert_allclose(target[1], p * target[0], atol=1e-6)
    stems = np.stack(
        [chunk_of(cache_dir, tiny, bank, t, o)[:, s] for s, (t, o) in enumerate(zip([0, 1, 0, 1], offsets))], 1
    )
    np.testing.assert_allclose(mixture[2], (stems * gains).sum(axis=1), atol=1e-6)
    np.testing.assert_allclose(target[2], stems[:, 1] * gains[1], atol=1e-6)


def test_sample_draws_follow_the_config(tiny, bank):
    vectors, _ = condition_table(tiny.data.conditions, 4)
    config = tiny.replace(data=PLAIN)
    plain = {k: v.numpy() for k, v in sample_draws(tf.constant([1, 2], tf.int64), 256, bank, config).items()}
    assert np.all(plain["track"] == plain["track"][:, :1])  # no remix: one track per example
    assert np.all(plain["offset"] == plain["offset"][:, :1])
    assert np.all(plain["gain"] == 1.0)
    assert {tuple(r) for r in plain["condition"]} <= {tuple(v) for v in vectors}
    assert len({tuple(r) for r in plain["condition"]}) > 8  # one-hot, sums and zero all drawn
    lengths = bank.track_lengths.numpy()[plain["track"]]
    assert np.all(plain["offset"] % bank.block == 0) and np.all(plain["offset"] >= 0)
    assert np.all(plain["offset"] + chunk_samples(config) <= lengths)

    wild = tiny.replace(data={"remix_probability": 1.0, "progressive_probability": 1.0, "gain_db_range": [-6.0, 3.0]})
    draws = {k: v.numpy() for k, v in sample_draws(tf.constant([1, 2], tf.int64), 256, bank, wild).items()}
    gain_db = 20 * np.log10(draws["gain"])
    assert gain_db.min() >= -6.0 - 1e-4 and gain_db.max() <= 3.0 + 1e-4 and gain_db.std() > 1.0
    scaled = draws["condition"].max(axis=1)
    assert np.all(scaled <= 1.0) and np.unique(scaled.round(4)).size > 50  # p drawn per example
    remixed = draws["track"] != draws["track"][:, [np.argmax(c) for c in draws["condition"]]].diagonal()[:, None]
    assert remixed.any()  # non-target stems come from other tracks
    target_stems = draws["condition"] > 0
    for row, targets in zip(draws["track"], target_stems):
        if targets.sum() > 1:
            assert len(set(row[targets])) == 1  # target stems stay together


def test_training_dataset_is_seeded_and_reproduces_its_draws(cache_dir, tiny, bank):
    config = tiny.replace(data={"gain_db_range": [-3.0, 3.0]})
    first = next(iter(training_dataset(config, cache_dir, batch_size=8, seed=5)))
    again = next(iter(training_dataset(config, cache_dir, batch_size=8, seed=5)))
    other = next(iter(training_dataset(config, cache_dir, batch_size=8, seed=6)))
    (mixture, condition), target = first
    assert mixture.shape == target.shape == (8, chunk_samples(config)) and condition.shape == (8, 4)
    assert mixture.dtype == condition.dtype == target.dtype == tf.float32
    for a, b in zip(tf.nest.flatten(first), tf.nest.flatten(again)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(mixture.numpy(), tf.nest.flatten(other)[0].numpy())
    draws = sample_draws(tf.constant([5, 0], tf.int64), 8, bank, config)
    np.testing.assert_allclose(condition.numpy(), draws["condition"].numpy())
    expected_mixture, expected_target = render(bank, draws, config)
    np.testing.assert_allclose(mixture.numpy(), expected_mixture.numpy(), atol=1e-5)
    np.testing.assert_allclose(target.numpy(), expected_target.numpy(), atol=1e-5)


def graph_ops(dataset) -> set:
    """Op types in a dataset's serialized graph, function bodies included."""
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(dataset._as_serialized_graph().numpy())
    ops = {node.op for node in graph.node}
    for function in graph.library.function:
        ops |= {node.op for node in function.node_def}
    return ops


def test_training_graph_has_no_python_functions(cache_dir, tiny):
    ops = graph_ops(training_dataset(tiny, cache_dir, batch_size=4))
    assert {"ParallelMapDatasetV2", "GatherV2", "StatelessRandomUniformV2"} <= ops  # the real graph
    python_ops = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}
    assert not python_ops & ops
    # the check itself sees a py_function when there is one
    leaky = tf.data.Dataset.range(2).map(lambda x: tf.py_function(lambda v: v, [x], tf.int64))
    assert python_ops & graph_ops(leaky)


def test_validation_set_is_finite_deterministic_and_complete(cache_dir, tiny):
    cache = open_cache(cache_dir, tiny)
    valid_bank = load_bank(cache, "valid", tiny)
    vectors, _ = condition_table(tiny.data.conditions, 4)
    expected = valid_bank.n_tracks * tiny.data.valid_offsets_per_track * len(vectors)
    runs = [list(validation_dataset(tiny, cache_dir, batch_size=5)) for _ in range(2)]
    assert sum(int(b[1].shape[0]) for b in runs[0]) == expected
    for a, b in zip(tf.nest.flatten(runs[0]), tf.nest.flatten(runs[1])):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    draws = validation_draws(tiny, valid_bank)
    assert {tuple(r) for r in draws["condition"]} == {tuple(v) for v in vectors}
    assert len(set(draws["offset"][:, 0])) == tiny.data.valid_offsets_per_track


def test_dedicated_unet_gets_its_target_and_no_condition(cache_dir, tiny, bank):
    config = tiny.replace(model={"type": "unet", "target": "vocals"}, data=PLAIN)
    mixture, target = next(iter(training_dataset(config, cache_dir, batch_size=4, seed=1)))
    assert mixture.shape == target.shape == (4, chunk_samples(config))
    draws = sample_draws(tf.constant([1, 0], tf.int64), 4, bank, config)
    np.testing.assert_array_equal(draws["condition"].numpy(), np.tile([0, 0, 0, 1.0], (4, 1)))
    offset = int(draws["offset"][0, 0])
    chunk = chunk_of(cache_dir, config, bank, int(draws["track"][0, 0]), offset)
    np.testing.assert_allclose(target[0].numpy(), chunk[:, 3], atol=1e-6)
    valid = next(iter(validation_dataset(config, cache_dir, batch_size=4)))
    assert len(valid) == 2 and valid[0].shape[1:] == (chunk_samples(config),)


def test_a_cache_of_another_config_is_refused(cache_dir, tiny):
    other = tiny.replace(audio={"sample_rate": 16000})
    with pytest.raises(CunetError, match="re-run `cunet prepare`") as info:
        training_dataset(other, cache_dir)
    message = str(info.value)
    assert "f74b8357c81c85c1" in message or open_cache(cache_dir, tiny).manifest["config_hash"] in message
    from cunet.config import config_hash

    assert config_hash(other) in message


def test_mirrored_strategy_splits_batches_over_two_replicas(cache_dir):
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from cunet.config import load_config
        from cunet.training.data import training_dataset
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        dataset = training_dataset(load_config("tiny"), {str(cache_dir)!r}, batch_size=8, seed=0)
        batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
        (mixture, condition), target = batch
        shapes = [tuple(t.shape) for t in strategy.experimental_local_results(mixture)]
        conditions = [tuple(t.shape) for t in strategy.experimental_local_results(condition)]
        print("SHAPES", shapes, conditions)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    length = chunk_samples(load_config("tiny"))
    assert f"SHAPES [(4, {length}), (4, {length})] [(4, 4), (4, 4)]" in result.stdout
