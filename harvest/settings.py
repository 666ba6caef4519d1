"""harvest's settings: `harvest.toml` in the working directory, then `HARVEST_*` environment variables.

Read when called (`load_settings()`), never at import time.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from annotation.config import LabelStudioConfig
from harvest.errors import ConfigError
from scrapers.config import CrawlConfig, SourceConfig

CONFIG_FILE = "harvest.toml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="HARVEST_", env_nested_delimiter="__", extra="forbid", toml_file=CONFIG_FILE
    )

    data_dir: Path = Path("harvest-data")
    database_url: str | None = None
    blob_url: str | None = None  # s3://bucket/prefix for object storage; default: <data_dir>/blobs
    crawl: CrawlConfig = Field(default_factory=CrawlConfig)
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    labelstudio: LabelStudioConfig = Field(default_factory=LabelStudioConfig)

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'harvest.db'}"
        return self

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def blob_location(self) -> str:
        """Where blobs live: `blob_url` if set, else the local folder <data_dir>/blobs."""
        return self.blob_url or str(self.blob_dir)

    @model_validator(mode="after")
    def _check_blob_url(self) -> Settings:
        if self.blob_url and not self.blob_url.startswith("s3://"):
            raise ValueError(f"blob_url must be s3://bucket/prefix (found {self.blob_url!r}); leave it unset "
                             "to keep blobs in <data_dir>/blobs")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def _where(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Read settings now; raise ConfigError naming the key, the file and the fix on any mistake."""
    path = Path(config_file or os.environ.get("HARVEST_CONFIG") or CONFIG_FILE)
    if config_file is not None and not path.is_file():
        raise ConfigError(f"config file {path} does not exist; create it or drop --config.")
    try:
        klass = type("Settings", (Settings,), {"model_config": {**Settings.model_config, "toml_file": path}})
        settings = klass(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _where(err["loc"])
            if err["type"] == "extra_forbidden":
                lines.append(f"unknown key '{where}'")
            else:
                lines.append(f"'{where}': {err['msg']} (found {err.get('input')!r})")
        raise ConfigError(
            f"bad configuration in {path} or HARVEST_* variables:\n  - " + "\n  - ".join(lines)
            + "\nFix or remove these keys; see the configuration reference in README.md."
        ) from None
    except Exception as exc:  # a TOML syntax error
        if type(exc).__name__ == "TOMLDecodeError":
            raise ConfigError(f"{path} is not valid TOML: {exc}. Fix the syntax at that line.") from None
        raise
    return settings
