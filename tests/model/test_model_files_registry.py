"""`import cunet` is enough for `keras.saving.load_model` to read any cunet file, and stays light;
files saved before the `UNet` class (the embedded model shipped until 2026-12) load and show their parts."""

import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import cunet
from cunet.config import load_config
from cunet.kernels.switch import use_cpu_kernels
from cunet.model.files import load_model, save_model
from cunet.model.parts import as_unet, control_network_of, mask_block_of
from cunet.model.unet import UNet, build_model

SHIPPED = Path(cunet.__file__).parent / "pretrained" / "cunet-default.keras"
# the embedded model as shipped until 2026-12: a plain functional file, written before the UNet class
PLAIN_FUNCTIONAL = Path(__file__).resolve().parents[1] / "data" / "plain_functional_model.keras"

LOAD = """
import sys
{first}
assert ("keras" in sys.modules) == {keras_first}, "import cunet imported Keras"
assert "tensorflow" not in sys.modules or {keras_first}, "import cunet imported TensorFlow"
import keras
for path in sys.argv[1:]:
    model = keras.saving.load_model(path, safe_mode=True, compile=False)
    print(type(model).__name__, model.count_params())
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A new file (UNet), an old-dialect file (functional, CPU-form classes), a plain functional one."""
    folder = tmp_path_factory.mktemp("files")
    config = load_config("tiny")
    model = build_model(config, compile=False)
    new = save_model(model, config, folder / "new.keras")
    old = folder / "old.keras"
    use_cpu_kernels(model, "cpu").save(old)
    return [new, old, PLAIN_FUNCTIONAL], model.count_params()


@pytest.mark.parametrize("keras_first", [False, True])
def test_import_cunet_is_enough_to_load_any_cunet_file(files, keras_first):
    paths, tiny_params = files
    first = "import keras, cunet" if keras_first else "import cunet"
    code = LOAD.format(first=first, keras_first=keras_first)
    result = subprocess.run([sys.executable, "-c", code, *map(str, paths)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [line.split() for line in result.stdout.strip().splitlines()]
    assert [r[0] for r in rows] == ["UNet", "Functional", "Functional"]
    assert int(rows[0][1]) == int(rows[1][1]) == tiny_params


def test_without_import_cunet_keras_cannot_read_a_cunet_file(files):
    code = "import sys, keras; keras.saving.load_model(sys.argv[1], safe_mode=True)"
    result = subprocess.run([sys.executable, "-c", code, str(files[0][0])], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "UNet" in result.stderr


def test_plain_functional_file_shows_its_parts_and_loads_as_a_unet():
    path = PLAIN_FUNCTIONAL
    plain = keras.saving.load_model(path, safe_mode=True, compile=False)
    assert not isinstance(plain, UNet)
    unet, config = load_model(path)
    assert isinstance(unet, UNet) and unet.conditioned and unet.n_conditions == len(config.instruments)
    block, ours = mask_block_of(plain), unet.mask_block
    assert block is not None and block.deconv.name == ours.deconv.name == f"decoder_{config.model.n_layers - 1}_deconv"
    assert (
        (block.batchnorm.name, block.mask.name)
        == (ours.batchnorm.name, ours.mask.name)
        == (f"decoder_{config.model.n_layers - 1}_bn", "mask")
    )
    assert (block.dropout is None) == (ours.dropout is None)
    assert control_network_of(plain).get_config() == unet.control_network.get_config()
    for a, b in zip(plain.get_weights(), unet.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert as_unet(unet, config) is unet


def test_a_file_whose_weights_do_not_fit_its_config_is_refused(tmp_path):
    from cunet.model.files import ModelFileError

    config = load_config("tiny")
    other = build_model(config.replace(model={"filters": 8}), compile=False)
    plain = keras.Model(other.inputs, other.outputs)  # a plain functional file, like old ones
    path = save_model(plain, config, tmp_path / "m.keras")
    with pytest.raises(ModelFileError, match="not the model its embedded config describes"):
        load_model(path)


def test_parameter_count_read_from_the_file_leaves_out_the_optimizer(tmp_path):
    import io
    import zipfile

    import h5py

    from cunet.model.files import count_parameters

    config = load_config("tiny")
    model = build_model(config)  # compiled
    x = np.random.default_rng(0).uniform(0, 1, (2, config.patch.freq_bins, config.patch.frames, 1)).astype("float32")
    model.fit([x, np.eye(4, dtype="float32")[:2]], x, epochs=1, verbose=0)  # the optimizer has its variables
    path = save_model(model, config, tmp_path / "trained.keras")
    with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as weights:
        assert "optimizer" in weights  # saved with its training state
    assert count_parameters(path) == model.count_params() > 0
    assert count_parameters(SHIPPED) == 3_046_733
