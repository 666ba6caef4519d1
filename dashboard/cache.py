"""Aggregates kept in memory until the store changes: a change stamp (the newest id of every growing table,
each an index lookup, plus the small crawl-runs table's progress) and a time limit for updates in place
(an annotation marked deleted, a licence corrected), so pages stay fast on large stores.

Once the store has changed, a page is served the previous figures while one background thread per figure
recomputes them (a page waits only when there is nothing to show yet). A figure is computed once at a time:
a request that finds it being computed (by the start-up warm-up, or another request) waits for that result."""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.models import (
    Annotation, Asset, AssetQuality, CrawlRun, DatasetVersion, Export, ImageRejection, Item, ItemAsset, LabelingProject,
    Task,
)

logger = logging.getLogger(__name__)
MAX_AGE = 60.0  # seconds: how stale an aggregate may be after an update in place (no new row)
MAX_ENTRIES = 256
WAIT = 120.0  # seconds a request waits for a figure another thread is computing, before computing it itself
GROWING = (Annotation, Task, Item, ItemAsset, Asset, ImageRejection, DatasetVersion, Export, LabelingProject)

Compute = Callable[[Session], Any]
Memo = Callable[[Any, Compute], Any]


def uncached(session: Session) -> Memo:
    """A Memo that computes every time, in `session`."""
    return lambda key, compute: compute(session)


def stamp(session: Session) -> tuple:
    """What changes whenever rows are added, or a crawl run starts, beats or ends (one round trip)."""
    parts = [select(func.max(m.id)).scalar_subquery() for m in GROWING]
    parts += [select(func.count(AssetQuality.asset_id)).scalar_subquery(),
              select(func.max(CrawlRun.id)).scalar_subquery(), select(func.max(CrawlRun.heartbeat_at)).scalar_subquery(),
              select(func.max(CrawlRun.finished_at)).scalar_subquery()]
    return tuple(session.execute(select(*parts)).one())


class Cache:
    """`get(session, key, compute)`: compute(session) once per (key, stamp), at most MAX_AGE seconds old.

    With `sessions` (a session factory), an outdated value is returned at once and recomputed in a
    background thread with its own session; without, the caller waits for the new value."""

    def __init__(self, max_age: float = MAX_AGE) -> None:
        self.max_age = max_age
        self._values: dict[Any, tuple[tuple, float, Any]] = {}
        self._busy: set[Any] = set()
        self._computing: dict[Any, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, session: Session, key: Any, compute: Compute, current: tuple | None = None,
            sessions: sessionmaker | None = None) -> Any:
        current = stamp(session) if current is None else current
        now = time.monotonic()
        with self._lock:
            hit = self._values.get(key)
        if hit is not None and hit[0] == current and now - hit[1] < self.max_age:
            return hit[2]
        if hit is not None and sessions is not None:
            self._refresh_later(key, compute, sessions)
            return hit[2]
        if hit is None:
            return self._compute_once(session, key, compute, current, now)
        return self._store(key, current, now, compute(session))

    def _compute_once(self, session: Session, key: Any, compute: Compute, current: tuple, now: float) -> Any:
        """Compute a missing figure, or wait for the thread already computing it."""
        with self._lock:
            running = self._computing.get(key)
            if running is None:
                self._computing[key] = threading.Event()
        if running is not None:
            running.wait(WAIT)
            with self._lock:
                hit = self._values.get(key)
            if hit is not None:
                return hit[2]
            return self._store(key, current, now, compute(session))
        try:
            return self._store(key, current, now, compute(session))
        finally:
            with self._lock:
                self._computing.pop(key).set()

    def _store(self, key: Any, current: tuple, when: float, value: Any) -> Any:
        with self._lock:
            if len(self._values) >= MAX_ENTRIES:
                self._values.clear()
            self._values[key] = (current, when, value)
        return value

    def _refresh_later(self, key: Any, compute: Compute, sessions: sessionmaker) -> None:
        with self._lock:
            if key in self._busy:
                return
            self._busy.add(key)

        def run() -> None:
            try:
                with sessions() as s:
                    current, when = stamp(s), time.monotonic()
                    self._store(key, current, when, compute(s))
            except Exception:  # noqa: BLE001 - the page keeps its previous figures; the next view retries
                logger.exception("dashboard: recomputing %r failed", key)
            finally:
                with self._lock:
                    self._busy.discard(key)
        threading.Thread(target=run, name="dashboard-refresh", daemon=True).start()

    def memo(self, session: Session, sessions: sessionmaker | None = None) -> Memo:
        """A Memo for one request: the stamp is read once, on first use."""
        current: list[tuple] = []

        def memo(key: Any, compute: Compute) -> Any:
            if not current:
                current.append(stamp(session))
            return self.get(session, key, compute, current[0], sessions)
        return memo

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
