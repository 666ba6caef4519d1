"""Batched INSERT ... ON CONFLICT helpers that behave the same on SQLite and PostgreSQL.

Later stages write through these in batches inside one transaction; nothing commits per row.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import tuple_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

# SQLite allows 32766 bound parameters per statement; PostgreSQL 65535. Stay well below both.
MAX_PARAMS = 30_000


def _insert_for(session: Session, model: type):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model.__table__)
    if dialect == "sqlite":
        return sqlite.insert(model.__table__)
    raise NotImplementedError(f"upsert supports sqlite and postgresql, not {dialect!r}")


def upsert(
    session: Session,
    model: type,
    rows: Iterable[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str] | None = None,
) -> int:
    """Insert `rows`; on a conflict on the `conflict` columns update `update` columns (or do nothing).

    All rows must carry the same keys. Returns how many rows were sent. Does not commit.
    """
    rows = list(rows)
    if not rows:
        return 0
    keys = list(rows[0])
    for row in rows:
        if list(row) != keys:
            raise ValueError(f"upsert rows must all have the keys {keys}; found a row with {list(row)}")
    table = model.__table__
    stmt = _insert_for(session, model)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c[c] for c in conflict],
            set_={c: stmt.excluded[c] for c in update},
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=[table.c[c] for c in conflict])
    # executemany: SQLAlchemy's "insertmanyvalues" packs the rows into few multi-row statements
    session.execute(stmt, rows)
    return len(rows)


def insert_new(session: Session, model: type, rows: Iterable[dict[str, Any]], *, key: str) -> set[Any]:
    """INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key: the `key` values this statement really inserted.

    Exact under concurrency (another transaction's insert of the same key is a conflict, not "new" here),
    unlike comparing with a read made before the insert.
    """
    rows = list(rows)
    if not rows:
        return set()
    column = model.__table__.c[key]
    stmt = _insert_for(session, model).on_conflict_do_nothing(index_elements=[column]).returning(column)
    return set(session.scalars(stmt, rows))


def ids_by_key(session: Session, model: type, key: Sequence[str], values: Iterable[Any]) -> dict[Any, int]:
    """Map each key value (a scalar, or a tuple for a composite key) to the row id, in batches."""
    values = list(dict.fromkeys(values))
    table = model.__table__
    cols = [table.c[c] for c in key]
    out: dict[Any, int] = {}
    per_stmt = max(1, MAX_PARAMS // max(1, len(key)) // 2)
    for start in range(0, len(values), per_stmt):
        chunk = values[start : start + per_stmt]
        if len(cols) == 1:
            stmt = select(cols[0], table.c.id).where(cols[0].in_(chunk))
            out.update({row[0]: row[1] for row in session.execute(stmt)})
        else:
            stmt = select(*cols, table.c.id).where(tuple_(*cols).in_(chunk))
            out.update({tuple(row[:-1]): row[-1] for row in session.execute(stmt)})
    return out


def upsert_returning_ids(
    session: Session,
    model: type,
    rows: Iterable[dict[str, Any]],
    *,
    conflict: Sequence[str],
    update: Sequence[str] | None = None,
) -> dict[Any, int]:
    """`upsert`, then return {key value: id} for every row (inserted or already there)."""
    rows = list(rows)
    upsert(session, model, rows, conflict=conflict, update=update)
    if len(conflict) == 1:
        keys = [row[conflict[0]] for row in rows]
    else:
        keys = [tuple(row[c] for c in conflict) for row in rows]
    return ids_by_key(session, model, conflict, keys)
