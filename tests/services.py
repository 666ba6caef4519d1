"""Service availability for tests: a clear skip on a developer machine, a failure in CI.

CI sets HARVEST_REQUIRE_SERVICES=1 so that a missing PostgreSQL, Label Studio or browser fails the run.
"""
from __future__ import annotations

import os

import pytest


def required() -> bool:
    return os.environ.get("HARVEST_REQUIRE_SERVICES") == "1"


def missing(service: str, why: str) -> None:
    """Skip (or fail, when services are required) because `service` is not available."""
    message = f"{service} is not available: {why}"
    if required():
        pytest.fail(message + " (HARVEST_REQUIRE_SERVICES=1: a missing service fails the run)", pytrace=False)
    pytest.skip(message)
