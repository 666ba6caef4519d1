"""Aggregates kept in memory until the store changes: a change stamp (the newest id of every growing table,
each an index lookup, plus the small crawl-runs table's progress) and a time limit for updates in place
(an annotation marked deleted, a licence corrected), so pages stay fast on large stores."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import (
    Annotation, Asset, AssetQuality, CrawlRun, DatasetVersion, Export, ImageRejection, Item, ItemAsset, LabelingProject,
    Task,
)

Memo = Callable[[Any, Callable[[], Any]], Any]


def direct(key: Any, compute: Callable[[], Any]) -> Any:
    """A Memo that caches nothing."""
    return compute()

MAX_AGE = 60.0  # seconds: how stale an aggregate may be after an update in place (no new row)
MAX_ENTRIES = 256
GROWING = (Annotation, Task, Item, ItemAsset, Asset, ImageRejection, DatasetVersion, Export, LabelingProject)


def stamp(session: Session) -> tuple:
    """What changes whenever rows are added, or a crawl run starts, beats or ends (one round trip)."""
    parts = [select(func.max(m.id)).scalar_subquery() for m in GROWING]
    parts += [select(func.count(AssetQuality.asset_id)).scalar_subquery(),
              select(func.max(CrawlRun.id)).scalar_subquery(), select(func.max(CrawlRun.heartbeat_at)).scalar_subquery(),
              select(func.max(CrawlRun.finished_at)).scalar_subquery()]
    return tuple(session.execute(select(*parts)).one())


class Cache:
    """`get(session, key, compute)`: compute(session) once per (key, stamp), at most MAX_AGE seconds old."""

    def __init__(self, max_age: float = MAX_AGE) -> None:
        self.max_age = max_age
        self._values: dict[Any, tuple[tuple, float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, key: Any, compute: Callable[[Session], Any], current: tuple | None = None) -> Any:
        current = stamp(session) if current is None else current
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and hit[0] == current and now - hit[1] < self.max_age:
            return hit[2]
        value = compute(session)
        with self._lock:
            if len(self._values) >= MAX_ENTRIES:
                self._values.clear()
            self._values[key] = (current, now, value)
        return value

    def memo(self, session: Session) -> Memo:
        """A Memo for one request: the stamp is read once, on first use."""
        current: list[tuple] = []

        def memo(key: Any, compute: Callable[[], Any]) -> Any:
            if not current:
                current.append(stamp(session))
            return self.get(session, key, lambda _s: compute(), current[0])
        return memo

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
