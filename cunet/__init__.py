"""cunet: conditioned music source separation with the C-U-Net (FiLM-conditioned U-Net)."""

__version__ = "0.1.0"
