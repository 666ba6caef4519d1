"""`harvest` commands of the crawl stage: crawl, sources, runs, schedule."""
from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table


def _fmt_time(value, fmt: str = "%m-%d %H:%M") -> str:
    return value.strftime(fmt) if value else "-"


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the main app."""
    from harvest.context import State, console, err_console, settings, store

    @app.command("crawl")
    def crawl_cmd(
        source: str = typer.Argument(..., help="Source name (a sources.NAME table in harvest.toml, or the built-in demo)."),
        trigger: str = typer.Option("manual", help="Recorded on the run: manual or schedule."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Also show Scrapy's log (always written to "
                                     "runs/RUN_ID/scrapy.log in the data dir) on the terminal."),
        workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Worker processes sharing one frontier "
                                              "in Redis (\\[crawl] redis_url) for this one run; default: the "
                                              "source's `workers` (1)."),
        join: bool = typer.Option(False, "--join", help="Add --workers processes on this machine to the source's "
                                  "running shared run (started elsewhere with --workers)."),
        shared: bool = typer.Option(False, "--shared", help="Use the shared frontier even with one worker, so that "
                                    "other machines can --join."),
    ) -> None:
        """Crawl SOURCE with the project's Scrapy settings and record the run; exit 1 unless it succeeded."""
        from harvest.progress import progress_bar
        from scrapers.runs import crawl, log_file

        s = settings()
        store().close()  # says to run `harvest init` first, before anything starts
        config = str(State.config) if State.config else None
        if workers is None:
            from scrapers.config import all_sources

            known = all_sources(s).get(source)
            workers = known.workers if known is not None else 1
        if workers > 1 or join or shared:
            from scrapers.shared_run import crawl_shared

            console.print(f"crawling {source} with {workers} worker(s) on the shared frontier "
                          f"({s.crawl.redis_url}); logs in {s.data_dir}/runs/RUN_ID/")
            run_id = crawl_shared(s, source, workers, config_path=config, trigger=trigger, join=join,
                                  on_event=lambda text: err_console.print(f"[yellow]{text}[/]"))
        elif verbose:
            run_id = crawl(s, source, config_path=config, trigger=trigger, log_to_file=True, echo_log=True)
        else:
            with progress_bar(f"crawl {source}") as bar:
                run_id = crawl(s, source, config_path=config, trigger=trigger, log_to_file=True,
                               progress=lambda c: bar.update(c["pages"], pages=c["pages"], items=c["items"],
                                                             images=c["images"]))
        console.print(_runs_table(source, limit=1, run_id=run_id))
        status, error = _run_outcome(run_id)
        if status != "succeeded":
            err_console.print(f"[bold red]error:[/] crawl run {run_id} of {source} {status}"
                              f"{': ' + error if error else ''} (log: {log_file(s, run_id)})", highlight=False)
            raise typer.Exit(1)

    @app.command("sources")
    def sources_cmd() -> None:
        """List configured sources (and the built-in demo)."""
        from scrapers.config import all_sources

        table = Table(title="sources")
        for col in ("name", "kind", "start urls / spider", "schedule", "licence"):
            table.add_column(col, overflow="fold")
        for name, src in all_sources(settings()).items():
            where = src.spider or ", ".join(src.start_urls)
            table.add_row(name, src.kind, where, src.schedule or "-", src.licence or "-")
        console.print(table)

    @app.command("runs")
    def runs_cmd(
        source: Optional[str] = typer.Argument(None, help="Only this source."),
        limit: int = typer.Option(20, help="How many runs to show, newest first."),
        run: Optional[int] = typer.Option(None, "--run", help="Only this run, with every failed URL listed."),
    ) -> None:
        """Crawl run history: status, times, pages, items, images, duplicates, drops, errors."""
        console.print(_runs_table(source, limit=limit, run_id=run, full=run is not None))

    @app.command("schedule")
    def schedule_cmd(
        once: bool = typer.Option(False, "--once", help="Run what is due now, wait for it, and exit (for cron)."),
        tick: float = typer.Option(1.0, help="Seconds between checks of the schedules."),
        scrapyd: Optional[str] = typer.Option(None, "--scrapyd", help="Hand due crawls to these Scrapyd servers "
                                              "(URL[,URL]; the project deployed there with scrapyd-deploy)."),
        project: str = typer.Option("harvest", help="The Scrapyd project name (with --scrapyd)."),
    ) -> None:
        """Run each source on its cron `schedule`, one process per crawl, never two runs of a source at once."""
        from scrapers.schedule import Scheduler, crawl_command

        s = settings()
        config = str(State.config) if State.config else None
        launch = None
        if scrapyd is not None:
            from scrapers.scrapyd import ScrapydLauncher

            urls = [u.strip() for u in scrapyd.split(",") if u.strip()]
            bad = [u for u in urls if not u.startswith(("http://", "https://"))]
            if not urls or bad:
                err_console.print(f"[bold red]error:[/] --scrapyd expects http(s) URLs separated by commas, "
                                  f"e.g. http://10.0.0.5:6800,http://10.0.0.6:6800; found {scrapyd!r}")
                raise typer.Exit(2)
            launch = ScrapydLauncher(urls, project=project)
        scheduler = Scheduler(s, command=lambda name: crawl_command(name, config), launch=launch)
        launched = scheduler.run_once() if once else scheduler.run_forever(tick)
        console.print(f"scheduler finished; crawls started: {', '.join(launched) or 'none'}")


def _run_outcome(run_id: int) -> tuple[str, str | None]:
    from harvest.context import store
    from storage.collect_models import CrawlRun

    st = store()
    try:
        with st.sessions() as session:
            run = session.get(CrawlRun, run_id)
            return run.status, run.error
    finally:
        st.close()


def _table(title: str, cols: tuple[str, ...], left: tuple[str, ...]):
    from rich import box

    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, title_justify="left")
    for col in cols:
        table.add_column(col, justify="left" if col in left else "right", no_wrap=col in ("started", "ended", "status"),
                         min_width={"status": 9, "source": 6}.get(col))
    return table


def _runs_table(source: str | None, *, limit: int, run_id: int | None = None, full: bool = False):
    """Two tables that fit 80 columns: the runs (status, times, pages, items, errors) and their images
    (stored, known, duplicates, near-duplicates, dropped by reason)."""
    from rich.console import Group
    from sqlalchemy import select

    from harvest.context import store
    from storage.collect_models import CrawlRun, Source

    of = f" of {source}" if source else ""
    runs = _table(f"crawl runs{of}", ("run", "source", "status", "started", "ended", "pages", "items", "new",
                                      "gone", "errs"), ("source", "status", "started", "ended"))
    images = _table(f"images per run{of}", ("run", "stored", "known", "dups", "near-dups", "dropped (reason n)"),
                    ("dropped (reason n)",))
    notes = []
    st = store()
    try:
        with st.sessions() as session:
            stmt = select(CrawlRun, Source.name).join(Source).order_by(CrawlRun.id.desc()).limit(limit)
            if source:
                stmt = stmt.where(Source.name == source)
            if run_id is not None:
                stmt = stmt.where(CrawlRun.id == run_id)
            for run, name in session.execute(stmt):
                stats = run.stats or {}
                get = lambda key: str(stats.get(key, "-"))  # noqa: E731
                colour = {"succeeded": "green", "failed": "red", "empty": "red", "running": "yellow"}.get(run.status, "magenta")
                runs.add_row(str(run.id), name, f"[{colour}]{run.status}[/]", _fmt_time(run.started_at),
                             _fmt_time(run.finished_at, "%H:%M:%S"), get("pages"), get("items"), get("items_new"),
                             get("items_gone"), get("errors"))
                dropped = ", ".join(f"{k} {v}" for k, v in (stats.get("dropped") or {}).items()) or "-"
                images.add_row(str(run.id), get("images_stored"), get("images_known"), get("duplicates"),
                               get("near_duplicates"), dropped)
                failed = stats.get("pages_failed") or {}
                if failed:
                    notes.append(f"run {run.id}: pages answered with HTTP errors: "
                                 + ", ".join(f"{code} x{n}" for code, n in failed.items()))
                if run.error:
                    notes.append(f"run {run.id}: {run.error}")
                notes.extend(_run_notes(session, run, stats, full))
    finally:
        st.close()
    runs.caption = "\n".join(notes) or None
    images.caption = "stored: new assets; known: stored before, not fetched again; dups: same bytes as a stored image"
    return Group(runs, images)


def _run_notes(session, run, stats: dict, full: bool) -> list[str]:
    """What a run's table rows cannot say: the limit that ended it, the URLs it failed on, image hosts
    outside allowed_domains it fetched from, refusals, and items stored without a licence."""
    from sqlalchemy import func, select

    from storage.collect_models import Item

    notes = []
    if stats.get("workers"):
        died = stats.get("workers_died") or 0
        notes.append(f"run {run.id}: {stats['workers']} workers on one shared frontier"
                     + (f"; {died} died, their in-flight requests re-queued" if died else ""))
    if stats.get("limit_reached"):
        notes.append(f"run {run.id}: stopped at its limit `{stats['limit_reached']}` (raise it in the source's "
                     f"table); items not reached are not marked gone")
    failed = stats.get("failed_urls") or []
    if failed:
        shown = failed if full else failed[:5]
        more = "" if len(shown) == len(failed) else f" (and {len(failed) - len(shown)} more: --run {run.id})"
        notes.append(f"run {run.id}: failed URLs{more}:\n  " + "\n  ".join(shown))
    hosts = (stats.get("url_policy") or {}).get("offsite_image_hosts") or {}
    if hosts:
        notes.append(f"run {run.id}: images fetched from hosts outside allowed_domains: "
                     + ", ".join(f"{host} x{n}" for host, n in hosts.items()))
    refused = (stats.get("url_policy") or {}).get("refused") or {}
    if refused:
        notes.append(f"run {run.id}: requests refused by the URL policy: "
                     + ", ".join(f"{why} x{n}" for why, n in refused.items()))
    unlicensed = session.scalar(select(func.count(Item.id)).where(Item.last_crawl_run_id == run.id,
                                                                  Item.licence.is_(None)))
    if unlicensed:
        required = stats.get("licence_required")
        notes.append(f"run {run.id}: {unlicensed} item(s) without a licence (set `licence` on the source "
                     f"if the site states one)" + ("; the source requires one: they are kept, marked and left out "
                                                   "of dataset versions (`dataset create --include-unlicensed`)"
                                                   if required else ""))
    if stats.get("pages_unchanged"):
        notes.append(f"run {run.id}: {stats['pages_unchanged']} item page(s) answered 304 Not Modified "
                     f"(their items seen again, not re-parsed)")
    return notes
