"""Exceptions raised by ``augment``: one base class, one subclass per kind of bad input.

Every message says what was expected, what was found, and how to fix it.
"""

from __future__ import annotations


class AugmentError(Exception):
    """Base class of every error raised by the augment package."""


class PolicyError(AugmentError):
    """A policy file is malformed or asks for a transform that would make labels false."""


class TargetError(AugmentError):
    """A target (annotation) does not follow the internal annotation schema."""


class RenderError(AugmentError):
    """A render job could not be decoded, augmented or encoded."""
