"""cunet: conditioned music source separation with the C-U-Net (FiLM-conditioned U-Net)."""

import os

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
    """`cunet.Separator` is imported on first use, so `import cunet` stays light."""
    if name == "Separator":
        from cunet.separation.separator import Separator

        return Separator
    raise AttributeError(f"module 'cunet' has no attribute {name!r}")
