"""`harvest store verify`, `harvest dataset verify` and `harvest dataset replay`: find corruption, replay copies."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from harvest.context import console, err_console

store_app = typer.Typer(help="The blob store: verify its bytes.", no_args_is_help=True)


@contextmanager
def _bar(label: str, total: int | None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


@store_app.command("verify")
def store_verify(
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run after its last checkpoint.")] = False,
) -> None:
    """Re-hash every blob; move each one whose bytes no longer match its key to .quarantine/ (never delete)."""
    from harvest.context import store
    from storage.verify import count_blobs, verify_blobs

    st = store()
    with _bar("verify blobs", count_blobs(st.blobs)) as advance:
        report = verify_blobs(st.blobs, resume=resume, advance=advance)
    resumed = f" (resumed after {report.resumed_after[:12]}, {report.skipped} already checked)" if report.resumed_after else ""
    console.print(f"checked {report.checked} blobs, {report.bytes} bytes{resumed}: "
                  f"{len(report.mismatches)} mismatches")
    if report.mismatches:
        table = Table("blob key", "bytes now hash to", "quarantined to", title="damaged blobs")
        for m in report.mismatches:
            table.add_row(m["key"], m["found"], m["quarantined_to"])
        console.print(table)
        console.print("exports of versions holding these images now stop with a clear error; re-crawl the images "
                      "(or restore the blobs from a backup into their key paths).")
        raise typer.Exit(1)


def dataset_verify(export_dir: Annotated[Path, typer.Argument(help="An export directory (holds manifest.json).")]) -> None:
    """Re-hash every file of an export against its manifest; exit 1 when anything differs."""
    from export.replay import load_manifest
    from export.verify import verify_export

    total = len(load_manifest(export_dir).get("files") or [])
    with _bar("verify export", total) as advance:
        check = verify_export(export_dir, advance)
    console.print(f"{export_dir}: {check.checked} files hashed, {len(check.changed)} changed, "
                  f"{len(check.missing)} missing, {len(check.unlisted)} not in the manifest")
    for c in check.changed:
        console.print(f"  changed {c['path']}: manifest {c['expected'][:16]} ({c['listed_bytes']} bytes), "
                      f"found {c['found'][:16]} ({c['bytes']} bytes)", markup=False)
    for p in check.missing:
        console.print(f"  missing {p}", markup=False)
    for p in check.unlisted:
        console.print(f"  not in manifest {p}", markup=False)
    if not check.ok:
        raise typer.Exit(1)


def dataset_replay(
    export_dir: Annotated[Path, typer.Argument(help="An export directory (holds manifest.json).")],
    sample: Annotated[str, typer.Argument(help="An augmented copy's id, e.g. asset:12#aug0.")],
) -> None:
    """Re-render one augmented copy from the export alone and check its bytes against the exported file."""
    from export.replay import replay

    r = replay(export_dir, sample)
    for lib, (then, now) in r.libraries_differ.items():
        err_console.print(f"note: {lib} was {then} at export, is {now} now; bytes may differ", markup=False)
    if r.matches:
        console.print(f"[green]replayed[/] {sample}: {r.file} re-rendered byte for byte (sha256 {r.replayed_sha256[:16]})")
        return
    console.print(f"[red]differs[/] {sample}: {r.file} has sha256 {r.expected_sha256[:16]}, the replay gives "
                  f"{r.replayed_sha256[:16]}")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `store verify` and the dataset verify/replay commands."""
    from harvest.cli_dataset import dataset_app

    app.add_typer(store_app, name="store")
    dataset_app.command("verify")(dataset_verify)
    dataset_app.command("replay")(dataset_replay)
