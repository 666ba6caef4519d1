"""Run the `harvest` CLI in-process and capture what it printed."""
from __future__ import annotations

from harvest.cli import main


def run(capsys, *argv: str) -> tuple[int, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, " ".join((out.out + out.err).split())  # rich wraps long lines
