"""The stem bank: the cache held once in host memory, in every storage type, out of every graph."""

import numpy as np
import pytest
import tensorflow as tf

from cunet.training.cache import open_cache
from cunet.training.data import load_bank, offset_block, training_dataset
from cunet.training.stembank import StemBank

# largest error of each storage: (relative to |x|, absolute); float16's absolute term covers
# its subnormals, int16's is half a quantization step (the cache holds no sample beyond 1)
ERRORS = {"float32": (0.0, 0.0), "float16": (2.0**-11, 2.0**-25), "int16": (0.0, 2.0**-16)}


def _expected_rows(cache, bank, split):
    """The bank's layout rebuilt from the cached .npy files: (S * n_blocks, block)."""
    tracks = [t for t in cache.split(split) if t.name in bank.names]
    stems = []
    for s in range(bank.n_stems):
        parts = []
        for track in tracks:
            samples = np.asarray(cache.read_track(track))[:, s]
            parts.append(np.pad(samples, (0, -len(samples) % bank.block)))
        stems.append(np.concatenate(parts))
    return np.concatenate(stems).reshape(-1, bank.block)


@pytest.mark.parametrize("storage", ["float32", "float16", "int16"])
def test_bank_equals_the_cache_within_its_quantization_step(cache_dir, tiny, storage):
    config = tiny.replace(data={"storage": storage})
    cache = open_cache(cache_dir, config)
    bank = load_bank(cache, "train", config)
    expected = _expected_rows(cache, bank, "train")
    assert bank.numpy().shape == expected.shape
    relative, absolute = ERRORS[storage]
    assert np.abs(expected).max() < 1.0
    assert np.all(np.abs(bank.numpy() - expected) <= relative * np.abs(expected) + absolute)
    assert bank.nbytes == expected.size * (4 if storage == "float32" else 2)
    assert np.any(expected != 0)


def test_int16_clips_full_scale_and_keeps_small_values():
    track = np.array([[-2.0], [-1.0], [0.25], [1.0], [3e-5]], np.float32)
    bank = StemBank.from_arrays([track], ["t"], block=5, storage="int16")
    np.testing.assert_array_equal(bank.numpy()[0], [-1.0, -1.0, 0.25, 1.0 - 2.0**-15, 2.0**-15])


def test_unknown_storage_is_refused(tiny, cache_dir):
    with pytest.raises(Exception, match="unknown config|storage"):
        tiny.replace(data={"storage": "int8"})
    with pytest.raises(Exception, match="unknown stem storage"):
        StemBank.from_arrays([np.zeros((4, 1), np.float32)], ["t"], 2, storage="int8")


def test_no_dataset_graph_grows_with_the_data(tiny):
    """The pipeline opens the bank by name: serializing the dataset never copies the stems."""
    block = offset_block(tiny)
    rng = np.random.default_rng(0)
    sizes = {}
    for seconds in (30, 600):  # 1 MB and 20 MB of stems
        arrays = [rng.standard_normal((seconds * tiny.audio.sample_rate // 4, 4)).astype(np.float32) for _ in range(4)]
        bank = StemBank.from_arrays(arrays, ["a", "b", "c", "d"], block)
        dataset = training_dataset(tiny, None, batch_size=2, seed=0, bank=bank)
        next(iter(dataset))
        graph = dataset._as_serialized_graph(
            external_state_policy=tf.data.experimental.ExternalStatePolicy.WARN
        ).numpy()
        sizes[seconds] = len(graph)
        assert bank.nbytes > 20 * len(graph)
    assert abs(sizes[600] - sizes[30]) < 1000  # 20x the data, the same graph (numbers aside)
    assert sizes[600] < 200_000


def test_bank_outlives_the_dataset_objects_built_on_it(tiny):
    import gc

    arrays = [np.ones((tiny.audio.sample_rate * 4, 4), np.float32)]
    dataset = training_dataset(
        tiny, None, batch_size=2, seed=0, bank=StemBank.from_arrays(arrays, ["a"], offset_block(tiny))
    )
    gc.collect()
    (mixture, _), target = next(iter(dataset))
    assert mixture.shape[0] == 2 and np.all(np.isfinite(mixture.numpy()))


def test_banks_of_dropped_pipelines_stay_readable_and_close_frees_them(tiny):
    """Background threads of a dropped pipeline may still read its bank: it is only freed by close()."""
    arrays = [np.ones((tiny.audio.sample_rate * 4, 4), np.float32)]
    for _ in range(4):  # each pipeline dropped while its prefetch threads run
        bank = StemBank.from_arrays(arrays, ["a"], offset_block(tiny))
        (mixture, _), _ = next(iter(training_dataset(tiny, None, batch_size=8, seed=5, bank=bank)))
        assert np.all(np.isfinite(mixture.numpy()))
    bank = StemBank.from_arrays(arrays, ["a"], offset_block(tiny))
    assert bank.numpy().sum() > 0
    bank.close()
    with pytest.raises(tf.errors.FailedPreconditionError, match="Could not find variable"):
        tf.raw_ops.ReadVariableOp(resource=bank.handle(), dtype=bank.dtype)
