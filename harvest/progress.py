"""One progress display for the CLI's long commands (crawl, push, pull, export, augmentation).

The domain packages never import harvest/: they accept a plain callback and the CLI passes a method of
`Bar` from here: `update(done, total, **fields)` for one counter, `stage(name, done, total)` for work in
stages (an export: augment, then images), a line per stage. It draws on stderr, so stdout stays the
command's result."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn,
                           TimeElapsedColumn)

from harvest.context import err_console


class Bar:
    def __init__(self, progress: Progress, description: str, total: int | None) -> None:
        self.progress = progress
        self.description = description
        self.tasks: dict[str, TaskID] = {"": progress.add_task(description, total=total, info="")}

    def update(self, done: int, total: int | None = None, **fields: int | str) -> None:
        """One counter; `fields` become the text after the bar (`pages 3 · items 2`)."""
        info = " · ".join(f"{k} {v}" for k, v in fields.items())
        self.progress.update(self.tasks[""], completed=done, total=total, info=info)

    def stage(self, name: str, done: int, total: int | None = None) -> None:
        """A line per stage, e.g. `export v1: augment 40/120` then `export v1: images 10/300`."""
        if name not in self.tasks:
            if len(self.tasks) == 1 and self.progress.tasks[0].completed == 0:
                self.progress.remove_task(self.tasks.pop(""))
            self.tasks[name] = self.progress.add_task(f"{self.description}: {name}", total=total, info="")
        self.progress.update(self.tasks[name], completed=done, total=total)


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Bar]:
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err_console)
    with progress:
        yield Bar(progress, description, total)
