"""Errors of the model loop; each message says what was expected, what was found and the fix."""
from __future__ import annotations


class EvaluateError(Exception):
    """Base class of every model-loop error."""


class PredictionFileError(EvaluateError):
    """A predictions file is malformed; the message names the file and the line or record."""


class NoExport(EvaluateError):
    """The ids of a predictions file need an export of the version, and none was found."""


class NoPredictions(EvaluateError):
    """The model has no stored predictions for the samples asked about."""


class NotEvaluable(EvaluateError):
    """The version holds no target type the metrics know (boxes or classes)."""
