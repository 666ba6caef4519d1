"""Errors of the collect stage. Each message says what was expected, what was found, and the fix."""
from __future__ import annotations


class CollectError(Exception):
    """Base class of every crawl-stage error."""


class UnknownSource(CollectError):
    """A source name that is neither configured nor built in."""


class BadSource(CollectError):
    """A source whose configuration cannot be turned into a spider."""


class StoreNotReady(CollectError):
    """The database has no (or an old) harvest schema."""


class RunAlreadyActive(CollectError):
    """Another run of the same source is still `running` (the one-running-run lock)."""


class ImageRejected(CollectError):
    """Downloaded bytes that are not an acceptable image; `reason` is a short stable key for stats."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail

    def __reduce__(self):  # raised in worker processes: pickle with both arguments
        return (type(self), (self.reason, self.detail))


class CheckFailed(CollectError):
    """`harvest source check` could not get a page to check (site down, not a page, a Python spider)."""
