"""cunet: conditioned music source separation with the C-U-Net (FiLM-conditioned U-Net)."""

import importlib.abc
import importlib.util
import os
import sys

__version__ = "0.1.0"

# CPU speed settings, unless already set (docs/BENCHMARKS.md has the measurements):
# - TensorFlow's default CPU allocator returns large buffers to the OS after each op, so every
#   batch page-faults its tensors in again; its BFC allocator keeps and reuses them. Read at
#   TensorFlow's first allocation.
# - TensorFlow enables its oneDNN kernels by default only on CPUs with AVX-512 VNNI/BF16 or
#   AMX; on other x86 CPUs they still run these convolutions faster. Read when
#   TensorFlow is imported, so `import cunet` first.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def __getattr__(name):
    """`cunet.Separator` and `cunet.load_model` (`(model, config)` of any cunet `.keras`
    file, `cunet.model.files.load_model`) are imported on first use, so `import cunet` stays
    light."""
    if name == "Separator":
        from cunet.separation.separator import Separator  # on first use: `import cunet` stays light

        return Separator
    if name == "load_model":
        from cunet.model.files import load_model  # on first use, as above

        return load_model
    raise AttributeError(f"module 'cunet' has no attribute {name!r}")


class _RegisterWithKeras(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `cunet.model.serializables` right after Keras, wherever Keras is imported
    from, so `keras.saving.load_model` reads cunet files after `import cunet` alone, and
    `import cunet` itself imports neither Keras nor TensorFlow."""

    def find_spec(self, name, path=None, target=None):
        if name != "keras":
            return None
        sys.meta_path.remove(self)  # one use; Keras itself is found by the other finders
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            self.keras_loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.keras_loader.create_module(spec)

    def exec_module(self, module):
        module.__spec__.loader = module.__loader__ = self.keras_loader
        self.keras_loader.exec_module(module)
        import cunet.model.serializables  # noqa: F401  (here: right after Keras, never before)


if "keras" in sys.modules:
    import cunet.model.serializables  # noqa: F401
elif not any(isinstance(finder, _RegisterWithKeras) for finder in sys.meta_path):
    sys.meta_path.insert(0, _RegisterWithKeras())
