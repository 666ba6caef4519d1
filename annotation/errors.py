"""Errors of the label stage. Each message says what was expected, what was found, and what to do."""
from __future__ import annotations


class LabelError(Exception):
    """Base class of every label-stage error."""


class LabelStudioUnavailable(LabelError):
    """No Label Studio answers at the configured URL, or it refused our token."""


class LabelStudioAPIError(LabelError):
    """Label Studio answered a request with an error status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerError(LabelError):
    """Installing, starting or stopping the local Label Studio server failed."""


class TemplateError(LabelError):
    """Unknown template, bad label set, or a label config the SDK rejects."""


class ConversionError(LabelError):
    """A Label Studio result or an internal target cannot be converted."""


class ProjectNotFound(LabelError):
    """No labeling project of that name in harvest's store."""


class MediaError(LabelError):
    """An image cannot be made reachable for Label Studio's browser."""
