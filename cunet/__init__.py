"""cunet: conditioned music source separation with the C-U-Net (FiLM-conditioned U-Net)."""

__version__ = "0.1.0"


def __getattr__(name):
    """`cunet.Separator` is imported on first use, so `import cunet` stays light."""
    if name == "Separator":
        from cunet.separator import Separator

        return Separator
    raise AttributeError(f"module 'cunet' has no attribute {name!r}")
