"""The read-only web dashboard: overview, crawl runs, samples, labeling and versions over the store.

    create_app(store, token=None) -> a Starlette app; `harvest dashboard` serves it.
"""
from __future__ import annotations

from dashboard.app import create_app

__all__ = ["create_app"]
