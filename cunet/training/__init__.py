"""Training: the stem cache, the tf.data pipeline, the training step, callbacks and `train`."""

from cunet.errors import CunetError


class TrainingError(CunetError):
    """A training run cannot start: bad options, an unusable run directory or data."""
