"""cunet: conditioned music source separation with the C-U-Net (FiLM-conditioned U-Net)."""

import os

__version__ = "0.1.0"

# TensorFlow's default CPU allocator returns large buffers to the OS after each op, so every
# batch page-faults its tensors in again; its BFC allocator keeps and reuses them (2-4x faster
# input pipeline, training and separation on CPU). Read at TensorFlow's first allocation;
# set TF_CPU_ALLOCATOR_USE_BFC=false to keep TensorFlow's default.
os.environ.setdefault("TF_CPU_ALLOCATOR_USE_BFC", "true")


def __getattr__(name):
    """`cunet.Separator` is imported on first use, so `import cunet` stays light."""
    if name == "Separator":
        from cunet.separator import Separator

        return Separator
    raise AttributeError(f"module 'cunet' has no attribute {name!r}")
