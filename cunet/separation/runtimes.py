"""Model files -> mask estimators, by runtime; where the embedded default model lives.

    litert:     the `.tflite` exported from the model (`cunet export`), run by
                `cunet.separation.litert.LiteRTMasks`: no TensorFlow or Keras import, a small
                and quickly started process (separation on CPUs).
    tensorflow: the saved Keras model, traced by `cunet.separation.masks.TensorFlowMasks`
                (the reference runtime).
    jax:        the saved Keras model on Keras' JAX backend, compiled by
                `cunet.separation.jax_masks.JaxMasks` (KERAS_BACKEND=jax; GPU when JAX has one).
    auto:       litert when a `.tflite` exported from that very `.keras` file lies beside it
                (or the model is a `.tflite`) and `ai-edge-litert` imports, else tensorflow.

The three give the same masks to float precision (tests/separation/test_runtimes.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Union

from cunet.config import Config
from cunet.errors import CunetError

if TYPE_CHECKING:
    from cunet.separation.masks import MaskEstimator

DEFAULT_MODEL_FILE = "cunet-default.keras"
RUNTIMES = ("auto", "litert", "tensorflow", "jax")
EMBEDDED_MODEL_NOTE = (
    "the embedded model is a small model trained on 4 hours of synthetic music (`cunet synth` "
    "renders): expect rough separations of real songs; train a real one on MUSDB18 with `cunet train`"
)


def default_model_path() -> Path:
    """Where the embedded default model lives (`cunet/pretrained/cunet-default.keras`)."""
    return Path(__file__).resolve().parent.parent / "pretrained" / DEFAULT_MODEL_FILE


def is_default_model(path: Union[str, Path]) -> bool:
    """Whether `path` is the embedded default model (its `.keras` or `.tflite`)."""
    return Path(path).resolve().with_suffix(".keras") == default_model_path()


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


def resolve_runtime(model: Union[None, str, Path], runtime: str = "auto") -> str:
    """The runtime `runtime` means for `model`: "auto" resolved as the module says, others
    checked (a `.tflite` model runs only on litert). Reads no weights, imports no TensorFlow."""
    if runtime not in RUNTIMES:
        raise CunetError(f"unknown runtime {runtime!r} (valid runtimes: {', '.join(RUNTIMES)})")
    path = resolve_model_path(model)
    if path.suffix == ".tflite":
        if runtime not in ("auto", "litert"):
            raise CunetError(f"{path.name} is a LiteRT model: it runs with --runtime litert, not {runtime}")
        return "litert"
    if runtime != "auto":
        return runtime
    # not at the top: `cunet --help` reads RUNTIMES here, without NumPy
    from cunet.separation.litert import litert_available, paired_tflite

    return "litert" if litert_available() and paired_tflite(path) is not None else "tensorflow"


def load_masks(
    model: Union[None, str, Path],
    runtime: str = "auto",
    batch_size: int = 16,
) -> tuple[MaskEstimator, Config]:
    """(mask estimator, config) of a saved cunet model (None: the embedded default model)."""
    runtime = resolve_runtime(model, runtime)
    path = resolve_model_path(model)
    if runtime == "litert":
        return _litert_masks(path, batch_size)
    # each runtime's module on its own path: no TensorFlow on litert's, no NumPy in `cunet --help`
    from cunet.model.files import load_model

    if runtime == "jax":
        from cunet.separation.jax_masks import JaxMasks  # as above

        keras_model, config = load_model(path)
        return JaxMasks(keras_model, config, batch_size=batch_size), config
    from cunet.separation.masks import TensorFlowMasks  # as above

    keras_model, config = load_model(path)
    return TensorFlowMasks(keras_model, config, batch_size=batch_size), config


def _litert_masks(path: Path, batch_size: int) -> tuple[MaskEstimator, Config]:
    """`LiteRTMasks` of a `.tflite` file, or of the `.tflite` exported from a `.keras` file
    (its embedded config must equal the `.keras` one's); `CunetError`s name the problem."""
    # not at the top: `cunet --help` reads RUNTIMES here, without NumPy
    from cunet.separation.litert import LiteRTMasks, litert_available, paired_tflite, read_tflite_config

    if not litert_available():
        raise CunetError("runtime litert needs the ai-edge-litert package (pip install ai-edge-litert)")
    if path.suffix == ".tflite":
        config = read_tflite_config(path)
        return LiteRTMasks(path, config, batch_size=batch_size), config
    from cunet.model.files import read_model_config  # as above

    config = read_model_config(path)
    tflite = path.with_suffix(".tflite")
    if not tflite.is_file():
        raise CunetError(f"no LiteRT model beside {path}: write it with `cunet export {path}`")
    read_tflite_config(tflite)  # a damaged file: its own one-line reason
    if paired_tflite(path) is None:
        raise CunetError(f"{tflite} was not exported from {path.name} (re-export: `cunet export {path}`)")
    return LiteRTMasks(tflite, config, batch_size=batch_size), config
