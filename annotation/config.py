"""Configuration of the Label Studio connection: `[labelstudio]` in harvest.toml."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, SecretStr


class LabelStudioConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    token: SecretStr | None = None  # HARVEST_LABELSTUDIO__TOKEN or HARVEST_LABELSTUDIO_TOKEN; never printed
    port: int = 8080
    webhook_secret: SecretStr | None = None
