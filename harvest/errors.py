"""Errors the CLI turns into one clear message and a non-zero exit."""
from __future__ import annotations


class HarvestError(Exception):
    """Base class of errors shown to the user without a traceback."""


class ConfigError(HarvestError):
    """harvest.toml or a HARVEST_* variable is wrong."""


class NotInitialisedError(HarvestError):
    """A command needs the store, and `harvest init` has not been run."""
