"""The `harvest` command line: wiring only; the work lives in the packages."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from harvest.context import State, console, err_console, settings, store
from harvest.errors import HarvestError

app = typer.Typer(help="harvest: crawl, label, augment and export versioned training sets.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")

ConfigOpt = Annotated[Optional[Path], typer.Option("--config", "-c", help="harvest.toml to read.")]


@app.callback()
def _root(config: ConfigOpt = None) -> None:
    State.config = config


@app.command()
def init() -> None:
    """Create the data directory and migrate the database to the newest schema."""
    from harvest.setup import init_store

    s = settings()
    head = init_store(s)
    console.print(f"[green]ready[/]: data in {s.data_dir}, database at revision {head}")


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the database up to REVISION (default: head)."""
    from storage.migrate import upgrade

    st = store()
    upgrade(st.settings.database_url, revision)
    console.print(f"upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument("-1")) -> None:
    """Migrate the database down to REVISION (default: one step)."""
    from storage.migrate import downgrade

    st = store()
    downgrade(st.settings.database_url, revision)
    console.print(f"downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current revision and the newest one."""
    from storage.migrate import current_revision, head_revision

    st = store()
    cur = current_revision(st.engine)
    head = head_revision(st.settings.database_url)
    mark = "(head)" if cur == head else f"(head is {head})"
    console.print(f"{cur or 'empty database'} {mark}")


@app.command()
def status() -> None:
    """A table of counts per source and per stage."""
    from harvest.status import status_table

    console.print(status_table(store()))


def _register_subcommands() -> None:
    from harvest import cli_crawl, cli_dataset, cli_demo, cli_label, cli_verify

    for module in (cli_crawl, cli_label, cli_dataset, cli_demo, cli_verify):
        module.register(app)


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; known errors become one message and exit code 2."""
    try:
        app(args=argv, standalone_mode=False)
    except HarvestError as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except Exception as exc:  # errors of our packages carry their own fix; show them without a traceback
        if _is_known(exc):
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(2)
        raise


def _is_known(exc: Exception) -> bool:
    import click

    if isinstance(exc, click.exceptions.Exit):
        sys.exit(exc.exit_code)
    if isinstance(exc, click.ClickException):
        exc.show()
        sys.exit(exc.exit_code)
    if isinstance(exc, click.exceptions.Abort):
        err_console.print("aborted")
        sys.exit(130)
    mod = type(exc).__module__.split(".")[0]
    return mod in {"storage", "scrapers", "annotation", "augment", "export", "harvest"}
