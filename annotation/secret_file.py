"""Secrets harvest generates for itself (webhook, media): read from config, else made once and kept 0600."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from annotation.redact import register_secret
from annotation.server import private_dir, state_dir


def stored_secret(data_dir: Path, name: str, configured: SecretStr | None = None) -> str:
    """`configured` if set, else `<data_dir>/labelstudio/<name>`, generated on first use (mode 0600).

    The file appears complete or not at all (written aside, then hard-linked into place), so two
    processes starting together agree on one secret.
    """
    if configured is not None:
        value = configured.get_secret_value()
    else:
        path = state_dir(Path(data_dir)) / name
        if not path.is_file():
            private_dir(path.parent)
            tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process won the race: use its secret
            finally:
                tmp.unlink(missing_ok=True)
        value = path.read_text().strip()
    register_secret(value)
    return value
