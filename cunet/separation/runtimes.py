"""Model files -> mask estimators, by runtime; where the embedded default model lives.

    tensorflow: the saved Keras model, traced by `cunet.separation.masks.TensorFlowMasks`
                (the reference runtime).
    litert:     `cunet.separation.litert.LiteRTMasks` (issue #14; not in this module).
    jax:        the saved Keras model on Keras' JAX backend, compiled by
                `cunet.separation.jax_masks.JaxMasks` (KERAS_BACKEND=jax; GPU when JAX has one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

from cunet.config import Config
from cunet.errors import CunetError
from cunet.separation.masks import MaskEstimator

DEFAULT_MODEL_FILE = "cunet-default.keras"
RUNTIMES = ("tensorflow", "litert", "jax")


def default_model_path() -> Path:
    """Where the embedded default model lives (`cunet/pretrained/cunet-default.keras`)."""
    return Path(__file__).resolve().parent.parent / "pretrained" / DEFAULT_MODEL_FILE


def resolve_model_path(model: Union[None, str, Path]) -> Path:
    """`None` -> the embedded default model (a clear `CunetError` if it is not there)."""
    if model is not None:
        return Path(model)
    path = default_model_path()
    if not path.is_file():
        raise CunetError(
            f"the embedded default model is not installed ({path.name} missing in "
            f"{path.parent}); pass a trained model with --model PATH"
        )
    return path


def load_masks(model: Union[None, str, Path], runtime: str = "tensorflow", batch_size: int = 16,
               ) -> tuple[MaskEstimator, Config]:
    """(mask estimator, config) of a saved cunet model (None: the embedded default model)."""
    if runtime == "tensorflow":
        from cunet.model.files import load_model
        from cunet.separation.masks import TensorFlowMasks

        keras_model, config = load_model(resolve_model_path(model))
        return TensorFlowMasks(keras_model, config, batch_size=batch_size), config
    if runtime == "jax":
        from cunet.model.files import load_model
        from cunet.separation.jax_masks import JaxMasks

        keras_model, config = load_model(resolve_model_path(model))
        return JaxMasks(keras_model, config, batch_size=batch_size), config
    if runtime == "litert":  # issue #14: `cunet.separation.litert.LiteRTMasks(tflite_path, config, batch_size)`
        raise CunetError("runtime 'litert' is not available in this version")
    raise CunetError(f"unknown runtime {runtime!r} (valid runtimes: {', '.join(RUNTIMES)})")
