"""Errors of the demo site."""
from __future__ import annotations


class DemoSiteError(Exception):
    """The demo site cannot be built or served; the message says what to change."""
