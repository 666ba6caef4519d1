"""Run Alembic migrations programmatically (used by `harvest init` and `harvest db`).

Alembic is imported only by the functions that migrate or read the scripts (~120 ms of CPU): every other
command (`harvest crawl` among them) only asks the database for its revision, which `current_revision`
reads from alembic's version table itself.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, column, func, inspect, select, table

from storage.engine import make_engine
from storage.errors import DowngradeRefused

if TYPE_CHECKING:
    from alembic.config import Config

VERSION_TABLE = "alembic_version"  # alembic's default, which migrations/env.py keeps

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "-1", *, drop_everything: bool = False) -> None:
    """Migrate down to `revision`; going below the first revision (which drops every table) is refused
    with DowngradeRefused, naming the tables and their rows, unless `drop_everything`."""
    if not drop_everything:
        tables = tables_dropped_by(url, revision)
        if tables is not None:
            listed = ", ".join(f"{name} ({rows} rows)" for name, rows in tables.items()) or "none"
            raise DowngradeRefused(
                f"downgrading to {revision!r} goes below the first revision and drops every table of the store: "
                f"{listed}. To do it anyway pass --yes-drop-everything (back up the database first); "
                "to step back one migration only, name the revision to go to (see `harvest db current`)."
            )
    from alembic import command

    command.downgrade(alembic_config(url), revision)


def downgrade_target(url: str, revision: str) -> str | None:
    """The revision a downgrade to `revision` (an id, "base" or "-N") ends at; None means base (empty)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config(url))
    if revision == "base":
        return None
    if revision.startswith("-") and revision[1:].isdigit():
        engine = make_engine(url)
        try:
            target = current_revision(engine)
        finally:
            engine.dispose()
        for _ in range(int(revision[1:])):
            if target is None:
                break
            down = script.get_revision(target).down_revision
            target = down if isinstance(down, str) or down is None else down[0]
        return target
    return script.get_revision(revision).revision


def tables_dropped_by(url: str, revision: str) -> dict[str, int] | None:
    """None if the downgrade keeps the schema; else every table (but alembic's) with its row count."""
    if downgrade_target(url, revision) is not None:
        return None
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            names = sorted(n for n in inspect(conn).get_table_names() if n != "alembic_version")
            return {n: conn.execute(select(func.count()).select_from(table(n))).scalar_one() for n in names}
    finally:
        engine.dispose()


def head_revision(url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's revision, None before `harvest init`: what alembic's MigrationContext reports
    (and, like it, an error for a version table holding more than one head)."""
    with engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return None
        heads = list(conn.execute(select(column("version_num")).select_from(table(VERSION_TABLE))).scalars())
    if len(heads) > 1:
        raise RuntimeError(f"the version table {VERSION_TABLE!r} holds {len(heads)} revisions ({', '.join(heads)}); "
                           "a harvest database has one. Run `harvest db current` and repair it with Alembic.")
    return heads[0] if heads else None
