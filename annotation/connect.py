"""Where harvest finds Label Studio: `[labelstudio] url` + token, else the state of `harvest label server start`."""
from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from annotation.client import LabelStudioClient
from annotation.config import TOKEN_ENV
from annotation.errors import LabelStudioUnavailable
from annotation.server import read_state


def resolve(settings) -> tuple[str, SecretStr, Path]:
    """(url, token, document root of its local-files serving) for these settings."""
    cfg = settings.labelstudio
    state = read_state(Path(settings.data_dir))
    if cfg.url:
        token = cfg.token or (SecretStr(state.token) if state and state.url == cfg.url.rstrip("/") else None)
        if token is None:
            raise LabelStudioUnavailable(
                f"[labelstudio] url is {cfg.url} but no token is set. Export {TOKEN_ENV}=<your legacy API token> "
                "(Label Studio: Account & Settings > Legacy Token)."
            )
        return cfg.url.rstrip("/"), token, document_root(settings)
    if state is None:
        raise LabelStudioUnavailable(
            "no Label Studio configured: run `harvest label server start`, or set [labelstudio] url "
            f"and {TOKEN_ENV} for an existing server."
        )
    return state.url, cfg.token or SecretStr(state.token), Path(cfg.document_root or state.document_root)


def document_root(settings) -> Path:
    cfg = settings.labelstudio
    state = read_state(Path(settings.data_dir))
    if cfg.document_root:
        return Path(cfg.document_root).resolve()
    if state is not None:
        return Path(state.document_root)
    return Path(settings.data_dir).resolve()


def client_for(settings) -> LabelStudioClient:
    url, token, _ = resolve(settings)
    return LabelStudioClient(url, token, timeout=settings.labelstudio.request_timeout)
