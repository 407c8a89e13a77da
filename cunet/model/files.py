"""Saving and safely loading cunet models: a `.keras` file that carries its own config.

`save_model` writes the Keras archive atomically and adds the resolved config to it as the
member `cunet-config.yaml`, so a model file alone says how it was built (rate, STFT, patch,
instrument order). Files hold stock Keras layers: a model in the CPU speed forms of
`cunet.kernels.switch` is saved as the `UNet` it came from. `load_model` always uses Keras'
safe mode (a model holding a `Lambda` layer or other arbitrary code is refused) and returns a
`UNet`, also for files saved before that class (plain functional models, some of them with
the CPU forms' classes).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Union

import yaml

from cunet.config import Config, ConfigError, config_from_dict
from cunet.errors import CunetError
from cunet.fileio import atomic_path

CONFIG_MEMBER = "cunet-config.yaml"
WEIGHTS_MEMBER = "model.weights.h5"  # Keras' name for the weights in a .keras archive


class ModelFileError(CunetError):
    """A model file is missing, corrupt, unsafe, or not a cunet model."""


def save_model(model, config: Config, path: Union[str, Path]) -> Path:
    """Write `model` with `config` embedded to `path` (a `.keras` file), atomically, in stock
    Keras layers."""
    from cunet.model.parts import stock_model  # Keras: not on the LiteRT path, which reads configs here

    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"model files end in .keras: {path}")
    model = stock_model(model, config)
    with atomic_path(path, suffix=".keras") as tmp:
        model.save(tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            archive.writestr(CONFIG_MEMBER, yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path


def require_keras_file(path: Union[str, Path], note: str = "") -> Path:
    """`path` unless it is a `.tflite` (LiteRT) file, which is refused naming the `.keras` model
    to give instead, with `note` after it."""
    path = Path(path)
    if path.suffix == ".tflite":
        raise ModelFileError(
            f"{path}: give the .keras model ({path.with_suffix('.keras').name}), not its LiteRT export{note}"
        )
    return path


def read_model_config(path: Union[str, Path]) -> Config:
    """The config embedded in a cunet `.keras` file."""
    path = require_keras_file(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            if CONFIG_MEMBER not in archive.namelist():
                raise ModelFileError(f"{path}: not a cunet model (no embedded cunet config)")
            data = yaml.safe_load(archive.read(CONFIG_MEMBER))
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .keras model file ({exc})") from None
    except yaml.YAMLError as exc:  # a Python tag (!!python/...) too: safe_load runs nothing
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: embedded config is not valid YAML ({first})") from None
    try:
        return config_from_dict(data)
    except ConfigError as exc:
        raise ModelFileError(f"{path}: embedded config is invalid: {exc}") from None


def count_parameters(path: Union[str, Path]) -> int:
    """The parameter count of a `.keras` file's model (`keras.Model.count_params()`: every
    weight, BatchNorm statistics included; no optimizer state), read from the shapes in its
    weights file without loading the model or importing TensorFlow."""
    import io

    import h5py
    import numpy as np

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            weights = h5py.File(io.BytesIO(archive.read(WEIGHTS_MEMBER)), "r")
    except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
        raise ModelFileError(f"{path}: not a readable .keras model file ({exc})") from None
    sizes = []
    with weights:
        for group in ("layers", "vars"):  # the model's; "optimizer" holds training state
            if group in weights:
                weights[group].visititems(
                    lambda _, item: sizes.append(int(np.prod(item.shape))) if isinstance(item, h5py.Dataset) else None
                )
    return sum(sizes)


def load_failure_reason(exc: BaseException) -> str:
    """One short line for why Keras could not load a file: the innermost cause of `exc`
    (Keras wraps it in "could not be deserialized properly"), without the configs it quotes."""
    chain = [exc]
    while (chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 20:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    texts = [str(e).strip() for e in chain]
    first = next((t.splitlines()[0] for t in texts if "lambda" in t.lower() or "safe_mode" in t), None)
    if first:
        return f"refused by safe loading (it contains arbitrary code, e.g. a Lambda layer): {first}"
    named = re.search(r"'module': '([^']*)', 'class_name': '([^']*)'", texts[-1])
    if named and texts[-1].startswith(("Could not locate", "Could not interpret")):
        return (
            f"refused by safe loading: {named[1]}.{named[2]} is no class or function that "
            "cunet or Keras registers for loading (nothing was run)"
        )
    inner = texts[-1].splitlines()[0] if texts[-1] else type(chain[-1]).__name__
    for cut in (" Full object config", " Make sure custom", " using config="):
        inner = inner.split(cut)[0]
    return inner if len(inner) <= 200 else inner[:197] + "..."


def load_model(path: Union[str, Path], compile: bool = False):
    """Load `(model, config)` from a cunet `.keras` file with Keras' safe mode on; the model
    is a `cunet.model.unet.UNet`."""
    # Keras here, not at the top: the LiteRT path reads configs from this module
    import keras

    import cunet.model.serializables  # noqa: F401  (every class a cunet file may name)
    from cunet.model.parts import as_unet

    config = read_model_config(path)
    try:
        model = keras.saving.load_model(path, compile=compile, safe_mode=True)
    except Exception as exc:  # Keras raises many types for corrupt or unsafe archives
        raise ModelFileError(f"{path}: cannot load model: {load_failure_reason(exc)}") from None
    try:
        model = as_unet(model, config)
    except ValueError as exc:
        raise ModelFileError(f"{path}: not the model its embedded config describes: {exc}") from None
    return model, config
