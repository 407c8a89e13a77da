"""The C-U-Net model: `UNet`, its layers (`FiLM`, `ControlNetwork`) and model files.

Light to import (no Keras) so that `cunet.model.files.read_model_config` serves runtimes
without TensorFlow; the public classes load on first use. `cunet.model.serializables`
registers every class a cunet `.keras` file may name.
"""

import importlib

_PUBLIC = {
    "UNet": "cunet.model.unet",
    "MaskBlock": "cunet.model.unet",
    "build_model": "cunet.model.unet",
    "FiLM": "cunet.model.film",
    "ControlNetwork": "cunet.model.control",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name):
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'cunet.model' has no attribute {name!r}")
