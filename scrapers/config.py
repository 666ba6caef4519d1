"""Configuration of crawling: global crawl settings and one `[sources.NAME]` table per site."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CrawlConfig(BaseModel):
    """`[crawl]`: validation limits, near-duplicate threshold, politeness."""

    model_config = ConfigDict(extra="forbid")

    min_width: int = 32
    min_height: int = 32
    max_pixels: int = 40_000_000
    max_bytes: int = 20_000_000
    near_dup_threshold: int = Field(default=6, ge=0, le=64)
    contact_url: str = "https://github.com/harvest-data/harvest"
    concurrency_per_domain: int = 8
    autothrottle: bool = True


class SourceConfig(BaseModel):
    """`[sources.NAME]`: a Python spider (`spider = "module:Class"` or a spider name) or the config-driven spider."""

    model_config = ConfigDict(extra="forbid")

    spider: str | None = None
    start_urls: list[str] = Field(default_factory=list)
    allowed_domains: list[str] = Field(default_factory=list)
    schedule: str | None = None
    licence: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    rules: dict[str, Any] = Field(default_factory=dict)
