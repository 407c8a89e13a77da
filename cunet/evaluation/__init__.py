"""Evaluation: methods separate MUSDB18 tracks, museval scores them, results aggregate, reports."""

from cunet.errors import CunetError


class EvaluationError(CunetError):
    """A problem with the evaluation's input: data root, targets, models, output folder."""
