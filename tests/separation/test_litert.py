"""LiteRT export and mask estimation: the `.tflite` mask network equals the Keras one, carries
its config, is refused when damaged or mismatched, and runs without TensorFlow."""

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from cunet.cli import main
from cunet.config import load_config
from cunet.model.export import export_tflite, mask_network
from cunet.model.files import ModelFileError, load_model, save_model
from cunet.separation.litert import LiteRTMasks, paired_tflite, read_tflite_config
from model_fixtures import TINY_VARIANTS, randomize

PRETRAINED = Path(__file__).resolve().parents[2] / "cunet" / "pretrained"


@pytest.fixture(scope="module", params=sorted(TINY_VARIANTS))
def exported(request, tmp_path_factory):
    """(keras model, config, .keras path, .tflite path) of a tiny randomized model."""
    from cunet.model.unet import build_model

    config = load_config("tiny").replace(model=TINY_VARIANTS[request.param])
    model = build_model(config, compile=False)
    randomize(model, seed=len(request.param))
    folder = tmp_path_factory.mktemp(request.param)
    source = save_model(model, config, folder / "model.keras")
    return model, config, source, export_tflite(model, config, folder / "model.tflite", source=source)


def _patches(config, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 2, (n, config.patch.freq_bins, config.patch.frames, 1)).astype("float32")


def _keras_masks(model, config, patches, condition):
    inputs = [patches] if condition is None else [patches, np.repeat(condition[None], len(patches), axis=0)]
    return np.asarray(mask_network(model)(inputs, training=False))[..., 0]


def _conditions(config):
    if not config.conditioned:
        return [None]
    n = len(config.instruments)
    return [
        np.eye(n, dtype="float32")[3],
        np.array([1, 1, 0, 0], "float32"),
        np.full(n, 0.5, "float32"),
        np.zeros(n, "float32"),
    ]


def test_litert_masks_equal_keras_masks(exported):
    model, config, _, tflite = exported
    masks = LiteRTMasks(tflite, config, batch_size=5)  # 16 patches: batches of 5, 5, 5, 1
    for n in (1, 3, 16):
        patches = _patches(config, n, seed=n)
        for condition in _conditions(config):
            expected = _keras_masks(model, config, patches, condition)
            got = masks(patches, condition)
            assert got.shape == (n, config.patch.freq_bins, config.patch.frames) and got.dtype == np.float32
            np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
            assert expected.std() > 0.03  # the masks vary: the comparison has something to compare
        if config.conditioned:  # and the condition input is wired
            assert np.abs(masks(patches, _conditions(config)[0]) - masks(patches, _conditions(config)[1])).max() > 1e-2


def test_export_of_a_model_in_cpu_kernel_forms(exported, tmp_path):
    from cunet.kernels.switch import use_cpu_kernels, uses_cpu_kernels

    model, config, _, _ = exported
    fast = use_cpu_kernels(model, mode="cpu")
    assert uses_cpu_kernels(fast)
    tflite = export_tflite(fast, config, tmp_path / "fast.tflite")
    patches, condition = _patches(config, 3), _conditions(config)[0]
    np.testing.assert_allclose(
        LiteRTMasks(tflite, config)(patches, condition),
        _keras_masks(model, config, patches, condition),
        atol=1e-4,
        rtol=0,
    )


def test_litert_masks_from_two_threads_equal_serial(exported):
    _, config, _, tflite = exported
    masks = LiteRTMasks(tflite, config, batch_size=4, interpreters=2)
    condition = _conditions(config)[0]
    inputs = [_patches(config, 7, seed=s) for s in (1, 2)]
    serial = [masks(x, condition) for x in inputs]
    results = [None, None]

    def work(i):
        for _ in range(3):
            results[i] = masks(inputs[i], condition)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, expected in zip(results, serial):
        np.testing.assert_array_equal(got, expected)


def test_tflite_carries_config_and_pairs_with_its_source(exported, tmp_path):
    model, config, source, tflite = exported
    assert read_tflite_config(tflite).to_dict() == config.to_dict()
    assert paired_tflite(source) == tflite
    other = save_model(model, config.replace(name="renamed"), tmp_path / "model.keras")
    (tmp_path / "model.tflite").write_bytes(tflite.read_bytes())
    assert paired_tflite(other) is None  # a .tflite exported from another .keras file
    with pytest.raises(ModelFileError, match="does not match"):
        LiteRTMasks(tflite, config.replace(patch={"frames": 64}))


def test_shipped_tflite_matches_shipped_keras():
    model, config = load_model(PRETRAINED / "cunet-default.keras")
    tflite = PRETRAINED / "cunet-default.tflite"
    assert paired_tflite(PRETRAINED / "cunet-default.keras") == tflite
    masks = LiteRTMasks(tflite, config)
    patches = _patches(config, 3) * 0.5
    for condition in (np.eye(4, dtype="float32")[3], np.array([0, 0.6, 0, 0], "float32")):
        np.testing.assert_allclose(
            masks(patches, condition), _keras_masks(model, config, patches, condition), atol=1e-4, rtol=0
        )


@pytest.mark.parametrize("damage", ["truncated", "weights", "text", "empty", "missing"])
def test_damaged_tflite_refused_with_one_line(damage, tmp_path):
    data = (PRETRAINED / "cunet-default.tflite").read_bytes()
    bad = tmp_path / "bad.tflite"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "weights":
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0xFF  # inside the largest weight buffer
        bad.write_bytes(bytes(flipped))
    elif damage == "text":
        bad.write_text("not a model\n" * 10)
    elif damage == "empty":
        bad.write_bytes(b"")
    with pytest.raises(ModelFileError) as info:
        read_tflite_config(bad)
    assert "\n" not in str(info.value) and str(bad) in str(info.value)


def test_a_tflite_replaced_after_it_was_read_is_verified_again(tmp_path):
    import os

    data = (PRETRAINED / "cunet-default.tflite").read_bytes()
    path = tmp_path / "model.tflite"
    path.write_bytes(data)
    assert read_tflite_config(path).to_dict() == read_tflite_config(PRETRAINED / "cunet-default.tflite").to_dict()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF  # same size, same file
    before = path.stat()
    path.write_bytes(bytes(flipped))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10**6))  # a later write, whatever the clock's step
    with pytest.raises(ModelFileError, match="weights checksum mismatch"):
        read_tflite_config(path)


def test_tflite_without_cunet_config_refused(tmp_path):
    import keras

    from cunet.model.export import _convert

    config = load_config("tiny").replace(model=TINY_VARIANTS["unet"])
    inputs = keras.Input((config.patch.freq_bins, config.patch.frames, 1))
    plain = keras.Model(inputs, keras.layers.Activation("sigmoid", name="mask")(inputs))
    (tmp_path / "plain.tflite").write_bytes(_convert(plain, config))
    with pytest.raises(ModelFileError, match="not a cunet model"):
        read_tflite_config(tmp_path / "plain.tflite")


def test_litert_path_imports_no_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "from cunet.separation.litert import LiteRTMasks, read_tflite_config\n"
        f"path = {str(PRETRAINED / 'cunet-default.tflite')!r}\n"
        "config = read_tflite_config(path)\n"
        "masks = LiteRTMasks(path, config, batch_size=2)\n"
        "out = masks(np.full((3, 512, 128, 1), 0.1, np.float32), np.eye(4, dtype=np.float32)[3])\n"
        "assert out.shape == (3, 512, 128) and 0 <= out.min() and out.max() <= 1\n"
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_cli_export_writes_beside_the_model_atomically(tmp_path):
    config = load_config("tiny").replace(model=TINY_VARIANTS["unet"])
    from cunet.model.unet import build_model

    source = save_model(build_model(config, compile=False), config, tmp_path / "run" / "best.keras")
    assert main(["export", str(source)]) == 0
    assert sorted(p.name for p in source.parent.iterdir()) == ["best.keras", "best.tflite"]  # no temp file left
    assert paired_tflite(source) == source.with_suffix(".tflite")
    out = tmp_path / "elsewhere" / "model.tflite"
    assert main(["export", str(source), "--out", str(out)]) == 0
    assert read_tflite_config(out).to_dict() == config.to_dict()


@pytest.mark.parametrize("case", ["missing", "not-keras", "bad-out"])
def test_cli_export_bad_input_exits_2_with_one_line(case, tmp_path, capsys):
    args = {
        "missing": [str(tmp_path / "missing.keras")],
        "not-keras": [str(PRETRAINED / "cunet-default.tflite"), "--out", str(tmp_path / "x.tflite")],
        "bad-out": [str(PRETRAINED / "cunet-default.keras"), "--out", str(tmp_path / "model.onnx")],
    }[case]
    assert main(["export", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cunet export: error:") and "\n" not in err
    assert not any(tmp_path.iterdir())  # nothing written
