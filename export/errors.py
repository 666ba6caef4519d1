"""Errors of the export stage; each message says what was expected, what was found and the fix."""
from __future__ import annotations


class ExportError(Exception):
    """Base class of every export-stage error."""


class VersionExists(ExportError):
    """A dataset version with this name exists already (versions never change)."""


class VersionNotFound(ExportError):
    """No dataset version (or project) has the given name."""


class BadVersionSpec(ExportError):
    """A create option (split ratios, group key, filter, revision rule, policy) is malformed."""


class EmptyVersion(ExportError):
    """No sample has a usable annotation, so there is nothing to freeze."""


class LeakageError(ExportError):
    """The leakage audit of a new version did not read zero."""


class OutputPathError(ExportError):
    """The export output directory exists, escapes its parent, or is a symlink."""


class UnknownFormat(ExportError):
    """No export format is registered under the given name."""


class FormatError(ExportError):
    """A format cannot hold this version's data, or a file being read back is malformed."""


class AugmentUnavailable(ExportError):
    """The version has an augmentation policy but the augment package cannot render it."""


class VerifyError(ExportError):
    """An export directory cannot be verified or replayed (no manifest, unknown sample, files differ)."""
