"""Open harvest's store from settings: engine, sessions and blobs, checked for a clear error early."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from harvest.errors import ConfigError, NotInitialisedError
from harvest.settings import Settings
from storage.blobs import Blobs, open_blobs
from storage.engine import check_connection, make_engine, session_factory
from storage.errors import StorageError
from storage.migrate import current_revision


@dataclass
class Store:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: Blobs

    def close(self) -> None:
        self.engine.dispose()


def ensure_data_dir(path: Path) -> Path:
    """Create the data directory or say clearly why it cannot be used."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the data directory {path}: {exc.strerror}. "
            "Set data_dir in harvest.toml (or HARVEST_DATA_DIR) to a folder you can write."
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(
            f"the data directory {path} is not writable. "
            "Fix its permissions or set data_dir in harvest.toml (or HARVEST_DATA_DIR) to a folder you can write."
        )
    return path


def open_initialised_store(settings: Settings) -> Store:
    """Open the store of a database `harvest init` has set up; otherwise say to run it (creating no database)."""
    hint = "Run `harvest init` first (it creates the data directory and the database)."
    ensure_data_dir(settings.data_dir)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        if not Path(url.database).is_file():
            raise NotInitialisedError(f"no harvest database at {url.database}. {hint}")
    st = open_store(settings)
    try:
        revision = current_revision(st.engine)
    except Exception:
        st.close()
        raise
    if revision is None:
        st.close()
        raise NotInitialisedError(
            f"the database {url.render_as_string(hide_password=True)} has no harvest schema. {hint}")
    return st


def open_store(settings: Settings, *, check: bool = True) -> Store:
    ensure_data_dir(settings.data_dir)
    try:
        engine = make_engine(settings.database_url)
        if check:
            check_connection(engine)
    except StorageError as exc:
        raise ConfigError(str(exc)) from None
    try:
        blobs = open_blobs(settings.blob_location)
    except StorageError as exc:
        engine.dispose()
        raise ConfigError(str(exc)) from None
    return Store(settings, engine, session_factory(engine), blobs)
