"""One progress bar for the CLI's long commands (crawl, push, pull, export, augmentation).

The domain packages never import harvest/: they accept a plain callback `(done, total)` and the CLI
passes `bar.update` from here. The bar draws on stderr, so a command's stdout stays its result."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn,
                           TimeElapsedColumn)

from harvest.context import err_console


class Bar:
    """`update(done, total=None, **fields)`; `fields` become the text after the bar (`pages 3 · items 2`)."""

    def __init__(self, progress: Progress, task: TaskID) -> None:
        self.progress = progress
        self.task = task

    def update(self, done: int, total: int | None = None, **fields: int | str) -> None:
        info = " · ".join(f"{k} {v}" for k, v in fields.items())
        self.progress.update(self.task, completed=done, total=total, info=info)


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Bar]:
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err_console,
                        transient=False)
    with progress:
        yield Bar(progress, progress.add_task(description, total=total, info=""))
