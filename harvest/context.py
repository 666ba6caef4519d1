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


def store():
    from harvest.store import open_store

    return open_store(settings())
