"""Configuration of the Label Studio connection: `[labelstudio]` in harvest.toml.

The token comes from `HARVEST_LABELSTUDIO_TOKEN` (or `HARVEST_LABELSTUDIO__TOKEN`), or from the state
file written by `harvest label server start`; it is a SecretStr and never printed.
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

LS_VERSION = "1.23.2"
TOKEN_ENV = "HARVEST_LABELSTUDIO_TOKEN"
VENV_ENV = "HARVEST_LS_VENV"


class LabelStudioConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None  # an existing server; unset = the one `harvest label server start` runs
    token: SecretStr | None = None  # HARVEST_LABELSTUDIO_TOKEN; never printed
    host: str = "127.0.0.1"
    port: int = 8080
    venv: Path | None = None  # default: $HARVEST_LS_VENV or ~/.cache/harvest/label-studio-1.23.2
    document_root: Path | None = None  # the server's LOCAL_FILES_DOCUMENT_ROOT; default: the data dir
    admin_email: str = "admin@harvest.local"
    webhook_secret: SecretStr | None = None  # HARVEST_LABELSTUDIO__WEBHOOK_SECRET
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8097
    batch_size: int = 500  # tasks per bulk import request
    start_timeout: float = 180.0
    request_timeout: float = 120.0

    @model_validator(mode="after")
    def _token_from_env(self) -> LabelStudioConfig:
        if self.token is None and os.environ.get(TOKEN_ENV):
            self.token = SecretStr(os.environ[TOKEN_ENV])
        return self

    def venv_path(self) -> Path:
        if self.venv is not None:
            return self.venv.expanduser()
        env = os.environ.get(VENV_ENV)
        if env:
            return Path(env).expanduser()
        return Path.home() / ".cache" / "harvest" / f"label-studio-{LS_VERSION}"
