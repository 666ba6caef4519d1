"""Fixtures of the shared-frontier tests: a Redis key prefix per test, harvest settings on PostgreSQL."""
from __future__ import annotations

import uuid

import pytest

from scrapers.frontier import connect
from tests.scrapers.helpers import REDIS
from tests.services import missing


@pytest.fixture
def redis_prefix():
    """A key prefix of this test's own; every key under it deleted afterwards."""
    try:
        server = connect(REDIS)
        server.ping()
    except Exception as exc:  # noqa: BLE001 - any failure means the service is missing
        missing("Redis", f"no Redis at {REDIS}: {exc}")
    prefix = f"harvest-test-{uuid.uuid4().hex[:10]}"
    yield prefix
    keys = list(server.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        server.delete(*keys)


@pytest.fixture
def pg_settings(tmp_path, postgres_url, monkeypatch):
    from tests.conftest import make_settings

    monkeypatch.chdir(tmp_path)
    return make_settings(tmp_path, postgres_url)
