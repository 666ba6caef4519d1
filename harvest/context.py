"""State shared by the CLI modules: the chosen config file, the consoles, settings and store loaders."""
from __future__ import annotations

from pathlib import Path

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


class State:
    config: Path | None = None


def settings():
    from harvest.settings import load_settings

    return load_settings(State.config)


def store(*, initialised: bool = True):
    """Open the store; unless `initialised=False` (the `db` commands), refuse a database `harvest init`
    has not set up, with a message that says to run it, and create nothing on the way."""
    from harvest.store import open_initialised_store, open_store

    return open_initialised_store(settings()) if initialised else open_store(settings())
