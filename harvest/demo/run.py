"""Run the demo's steps in order, each timed, with rich progress; print where everything is at the end."""
from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import make_url

from harvest.demo import steps
from harvest.settings import Settings

STEPS = [
    ("init store", steps.init),
    ("serve demo site", steps.serve_site),
    ("crawl demo site", steps.crawl),
    ("Label Studio server", steps.label_server),
    ("labeling project", steps.project),
    ("push tasks + pre-annotations", steps.push),
    ("simulated annotators", steps.annotate),
    ("pull annotations", steps.pull),
    ("agreement", steps.agreement),
    ("dataset version v1", steps.version),
    ("export COCO + YOLO", steps.export),
]


def run_demo(settings: Settings, config_file: Path | None, console: Console, disagreement: float = 0.15) -> list:
    """Run every step; return [(step, seconds, outcome)]. Idempotent: a second run adds nothing new."""
    timings: list[tuple[str, float, str]] = []
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn(
        "{task.completed}/{task.total}"), TimeElapsedColumn(), console=console, transient=True)
    ctx = steps.DemoContext(settings, config_file, console, progress, disagreement)
    total_start = time.perf_counter()
    try:
        with progress:
            overall = progress.add_task("harvest demo", total=len(STEPS))
            for name, fn in STEPS:
                progress.update(overall, description=f"harvest demo: {name}")
                start = time.perf_counter()
                outcome = fn(ctx)
                seconds = time.perf_counter() - start
                timings.append((name, seconds, outcome))
                progress.console.print(f"[green]✓[/] {name} [dim]({seconds:.1f} s)[/]: {outcome}")
                progress.advance(overall)
    finally:
        ctx.cleanup.close()
        if ctx.store is not None:
            ctx.store.close()
    table = Table(title=f"harvest demo: done in {time.perf_counter() - total_start:.1f} s")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for name, seconds, _ in timings:
        table.add_row(name, f"{seconds:.1f}")
    console.print(table)
    _where(ctx, console)
    return timings


def _where(ctx: steps.DemoContext, console: Console) -> None:
    from annotation.connect import resolve

    url, _, _ = resolve(ctx.settings)
    data = ctx.settings.data_dir.resolve()
    console.print(f"\n[bold]Where everything is[/]")
    db = make_url(ctx.settings.database_url).render_as_string(hide_password=True)
    console.print(f"  store      : {db} and blobs in {data / 'blobs'}")
    for line in ctx.notes.get("exports", []):
        console.print(f"  export     : {line}")
    console.print(f"  Label Studio: {url}/projects/{ctx.notes.get('ls_project_id', '')} "
                  f"(admin login in {data / 'labelstudio' / 'state.json'})")
    console.print("  Label Studio keeps running for you; `harvest label server stop` stops it.")
    config = f"--config {ctx.config_file} " if ctx.config_file else ""
    console.print(f"  dashboard  : `harvest {config}dashboard` serves it at http://127.0.0.1:8765/ "
                  "(read-only: crawls, samples, labeling, versions and their diff)")
    console.print("  next       : label more by hand in Label Studio, then `harvest label pull demo-detection`, "
                  "`harvest dataset create v2 --project demo-detection --parent v1 ...`")
