"""Configuration of the Label Studio connection: `[labelstudio]` in harvest.toml.

The token comes from `HARVEST_LABELSTUDIO_TOKEN` (or `HARVEST_LABELSTUDIO__TOKEN`), or from the state
file written by `harvest label server start`; it is a SecretStr and never printed. `media_url` switches
image tasks from Label Studio's local files to signed URLs on `harvest label media` (another machine).
"""
from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

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
    webhook_max_bytes: int = Field(16 * 1024 * 1024, gt=0)  # a bigger body gets 413 (read while streaming)
    webhook_window_seconds: float = Field(300.0, gt=0)  # signed payloads: allowed clock difference and replay memory
    webhook_signed_only: bool = False  # refuse the static-header mode (a relay signs every payload)
    media_url: str | None = None  # e.g. "http://harvest-host:8098": signed harvest media URLs; unset = local files
    media_secret: SecretStr | None = None  # HARVEST_LABELSTUDIO__MEDIA_SECRET; else generated into the state folder
    media_ttl_days: int = Field(365, gt=0)  # lifetime of a signed image URL, fixed at push time
    media_host: str = "127.0.0.1"  # `harvest label media` listen address (0.0.0.0 for other machines)
    media_port: int = 8098
    batch_size: int = 500  # tasks per bulk import request
    start_timeout: float = 180.0
    request_timeout: float = 120.0

    @model_validator(mode="after")
    def _token_from_env(self) -> LabelStudioConfig:
        if self.token is None and os.environ.get(TOKEN_ENV):
            self.token = SecretStr(os.environ[TOKEN_ENV])
        return self

    @field_validator("media_url")
    @classmethod
    def _media_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"media_url must be an http(s) URL the annotators' browsers can reach, such as "
                             f"'http://harvest-host:8098'; found {value!r}")
        return value.rstrip("/") if value else None

    def venv_path(self) -> Path:
        if self.venv is not None:
            return self.venv.expanduser()
        env = os.environ.get(VENV_ENV)
        if env:
            return Path(env).expanduser()
        return Path.home() / ".cache" / "harvest" / f"label-studio-{LS_VERSION}"
