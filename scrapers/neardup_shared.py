"""The crawl's near-duplicate index: persisted in the data dir, caught up from the database before each batch.

Every crawl process sharing a store keeps one `SharedNearDupIndex`. It starts from
`<data_dir>/neardup/index.npz` (written at the end of the previous crawl on this machine) and reads
the assets added since (`id > watermark`) from the database, so hashes stored by other workers and
other machines are seen before each batch is clustered. Ids are allocated before commit, so a
transaction may commit a smaller id after a larger one was read: ids above the watermark are kept in
a seen-set and the watermark only passes an id once it has been settled for `settle` seconds.
"""
from __future__ import annotations

import hashlib
import logging
import time
from collections import deque
from pathlib import Path

import numpy as np
from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from scrapers.neardup import NearDupIndex
from storage.collect import ASSETS

logger = logging.getLogger(__name__)
FILE = Path("neardup") / "index.npz"
SETTLE = 30.0  # seconds after which no transaction still open can commit an id below what was read
CHUNK = 200_000


def database_key(url: str) -> str:
    """Which database an index file belongs to (the URL without its password, hashed)."""
    from sqlalchemy.engine import make_url

    return hashlib.sha256(make_url(url).render_as_string(hide_password=True).encode()).hexdigest()[:16]


class SharedNearDupIndex:
    def __init__(self, path: Path | None, database: str, settle: float = SETTLE) -> None:
        self.path, self.database, self.settle = path, database, settle
        self.index = NearDupIndex(1024)
        self.watermark = 0  # every asset id <= watermark with a pHash is in the index
        self.seen: set[int] = set()  # ids above the watermark already in the index
        self._marks: deque[tuple[float, int]] = deque()  # (when, highest id read then)

    def __len__(self) -> int:
        return len(self.index)

    @classmethod
    def open(cls, session: Session, data_dir: Path | None, database_url: str,
             settle: float = SETTLE) -> SharedNearDupIndex:
        """The persisted index if it belongs to this database, caught up; else one built from the database."""
        shared = cls(Path(data_dir) / FILE if data_dir is not None else None, database_key(database_url), settle)
        if shared.path is not None and shared.path.is_file():
            try:
                index, meta = NearDupIndex.load(shared.path)
                if meta.get("database") != shared.database:
                    raise ValueError("it was built for another database")
                top = session.scalar(select(ASSETS.c.id).order_by(ASSETS.c.id.desc()).limit(1)) or 0
                if int(index.ids.max(initial=0)) > top:
                    raise ValueError("it holds assets this database does not have")
                shared.index, shared.watermark = index, int(meta["watermark"])
                shared.seen = set(index.ids[index.ids > shared.watermark].tolist())
            except ValueError as exc:
                logger.warning("rebuilding the near-duplicate index: %s (%s)", shared.path, exc)
        shared.refresh(session)
        return shared

    def refresh(self, session: Session) -> int:
        """Add hashes committed since the last refresh (by anyone); returns how many were added."""
        added, last, top = 0, self.watermark, self.watermark
        while True:
            rows = session.execute(
                select(ASSETS.c.id, ASSETS.c.phash).where(and_(ASSETS.c.id > last, ASSETS.c.phash.is_not(None)))
                .order_by(ASSETS.c.id).limit(CHUNK)).all()
            if not rows:
                break
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            hashes = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
            last = top = int(ids[-1])
            if self.seen:
                fresh = np.fromiter((i not in self.seen for i in ids.tolist()), dtype=bool, count=len(ids))
                ids, hashes = ids[fresh], hashes[fresh]
            if len(ids):
                self.index.add_many(hashes, ids)
                self.seen.update(ids.tolist())
                added += len(ids)
            if len(rows) < CHUNK:
                break
        self._settle(top)
        return added

    def add_many(self, hashes: list[int], ids: list[int]) -> None:
        """This process's own new assets (committed): indexed now, skipped when the database shows them."""
        fresh = [(h, i) for h, i in zip(hashes, ids) if i > self.watermark and i not in self.seen]
        if fresh:
            self.index.add_many([h for h, _ in fresh], [i for _, i in fresh])
            self.seen.update(i for _, i in fresh)

    def _settle(self, top: int) -> None:
        """Move the watermark to the highest id read at least `settle` seconds ago; forget ids below it."""
        now = time.monotonic()
        if top > self.watermark and (not self._marks or top > self._marks[-1][1]):
            self._marks.append((now, top))
        mark = None
        while self._marks and now - self._marks[0][0] >= self.settle:
            mark = self._marks.popleft()[1]
        if mark is not None and mark > self.watermark:
            self.watermark = mark
            self.seen = {i for i in self.seen if i > mark}

    def query(self, phash: int, threshold: int) -> list[tuple[int, int]]:
        return self.index.query(phash, threshold)

    def nearest(self, phash: int, threshold: int) -> tuple[int, int] | None:
        return self.index.nearest(phash, threshold)

    def save(self) -> None:
        """Persist the index with a watermark that is safe to resume from (ids above it are re-read)."""
        if self.path is not None:
            self.index.save(self.path, {"database": self.database, "watermark": self.watermark})
