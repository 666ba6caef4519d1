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

    st = store(initialised=False)
    upgrade(st.settings.database_url, revision)
    console.print(f"upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: str = typer.Argument("-1"),
    yes_drop_everything: bool = typer.Option(False, "--yes-drop-everything",
                                             help="Allow going below the first revision, which drops every table."),
) -> None:
    """Migrate the database down to REVISION (default: one step). Refuses to drop every table (going below
    the first revision) unless --yes-drop-everything, and names the tables and their rows."""
    from storage.migrate import downgrade

    st = store(initialised=False)
    downgrade(st.settings.database_url, revision, drop_everything=yes_drop_everything)
    console.print(f"downgraded to {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current revision and the newest one."""
    from storage.migrate import current_revision, head_revision

    st = store(initialised=False)
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
    from harvest import cli_crawl, cli_dashboard, cli_dataset, cli_demo, cli_eval, cli_label, cli_source, cli_verify

    for module in (cli_crawl, cli_label, cli_dataset, cli_demo, cli_eval, cli_source, cli_verify, cli_dashboard):
        module.register(app)


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: typer handles usage errors itself (short message, exit 2); errors of our packages
    become one message without a traceback and exit 2."""
    try:
        app(args=argv, prog_name="harvest")
    except HarvestError as exc:
        _fail(exc)
    except Exception as exc:  # errors of our packages carry their own fix; show them without a traceback
        if type(exc).__module__.split(".")[0] in {"storage", "scrapers", "annotation", "augment", "export", "evaluate",
                                                 "dashboard", "harvest"}:
            _fail(exc)
        raise


def _fail(exc: Exception) -> None:
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
    sys.exit(2)
