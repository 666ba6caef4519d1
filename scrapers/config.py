"""Configuration of crawling: global crawl settings (`[crawl]`) and one `[sources.NAME]` table per site.

A source is either a Python spider (`spider = "module:Class"` or the name of a spider in
`scrapers.spiders`) or the config-driven spider, described by selectors only. The bundled demo
site is a built-in source `demo` used whenever harvest.toml does not define one of that name.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEMO_PORT = 8765
# a host name, an IPv4 address, an IPv6 address in brackets or bare, each optionally with :port
HOST_ENTRY = re.compile(r"(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)(?::\d{1,5})?")


def _has_port(entry: str) -> bool:
    return entry.count(":") == 1 or (entry.startswith("[") and "]:" in entry)
DEFAULT_MAX_PAGES = 20_000  # pages (responses) per run
DEFAULT_MAX_DEPTH = 16  # links away from a start URL
DEFAULT_MAX_SECONDS = 6 * 3600.0


class CrawlConfig(BaseModel):
    """`[crawl]`: validation limits, near-duplicate threshold, politeness, batching and run liveness."""

    model_config = ConfigDict(extra="forbid")

    min_width: int = 32
    min_height: int = 32
    max_pixels: int = 40_000_000
    max_bytes: int = 20_000_000
    near_dup_threshold: int = Field(default=6, ge=0, le=64)
    contact_url: str = "https://github.com/harvest-data/harvest"
    concurrency_per_domain: int = Field(default=8, ge=1)
    autothrottle: bool = True
    batch_size: int = Field(default=200, ge=1)  # items per database flush
    heartbeat_seconds: float = Field(default=15.0, gt=0)
    stale_after_seconds: float = Field(default=300.0, gt=0)  # a running run without heartbeat this long is dead
    demo_url: str = f"http://127.0.0.1:{DEMO_PORT}/"  # where the built-in `demo` source crawls
    quality_thresholds: dict[str, float] = Field(default_factory=dict)  # storage/quality.py Thresholds overrides
    chromium: str = "/usr/bin/chromium"  # the system browser of `render = "browser"` sources (never downloaded)
    # one source, many workers (`harvest crawl NAME --workers N`): the shared frontier in Redis
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "harvest"  # keys of run R live under PREFIX:run:R:
    frontier_urls: int = Field(default=10_000_000, ge=1000)  # seen-set sized for this many URLs (grows past it)
    worker_dead_after_seconds: float = Field(default=30.0, gt=0)  # a worker silent this long is dead


class SourceConfig(BaseModel):
    """`[sources.NAME]`: a Python spider or the config-driven spider (selectors: CSS, or XPath with `xpath:`)."""

    model_config = ConfigDict(extra="forbid")

    spider: str | None = None  # "package.module:Class" or a spider name; unset = config-driven
    start_urls: list[str] = Field(default_factory=list)
    allowed_domains: list[str] = Field(default_factory=list)
    image_domains: list[str] = Field(default_factory=list)  # more hosts images may come from ("cdn.example.com")
    schedule: str | None = None  # cron expression, e.g. "0 3 * * *"
    licence: str | None = None  # default licence when a page declares none
    attribution: str | None = None
    follow: list[str] = Field(default_factory=list)  # links to listing/pagination pages
    item_links: list[str] = Field(default_factory=list)  # links to item (detail) pages
    item_pattern: str | None = None  # regex: a page whose URL matches is parsed as an item
    fields: dict[str, str] = Field(default_factory=dict)  # name -> selector (text of the matches)
    images: list[str] = Field(default_factory=list)  # containers/elements holding the item's images
    records: str | None = None  # selector: each match on an item page is one item (a product card, a figure)
    record_key: str | None = None  # selector inside a record for its identity; default its first image URL
    respect_noai: bool = False  # honour `X-Robots-Tag: noai / noimageai`
    revalidate_images: bool = False  # conditional GET of known image URLs instead of skipping them
    sitemap_urls: list[str] = Field(default_factory=list)  # sitemaps (or robots.txt) listing the pages
    sitemap_rules: list[str] = Field(default_factory=list)  # regexes: only sitemap URLs matching one are parsed
    # limits that end a trap (an endless calendar, faceted search); Scrapy's CLOSESPIDER_* and DEPTH_LIMIT
    max_pages: int = Field(default=DEFAULT_MAX_PAGES, ge=0)  # 0 = no limit
    max_depth: int = Field(default=DEFAULT_MAX_DEPTH, ge=0)
    max_seconds: float = Field(default=DEFAULT_MAX_SECONDS, ge=0)
    # pages through a real browser (scrapy-playwright + chromium), for images that exist only after scripts
    render: Literal["http", "browser"] = "http"
    # regexes: only pages whose URL matches one go through the browser (the others over plain HTTP)
    render_urls: list[str] = Field(default_factory=list)
    scrolls: int = Field(default=0, ge=0, le=50)  # rendered pages: scrolls to the bottom per page
    # host[:port] of the site's canonical name: page links to any allowed domain are requested on it
    # (www vs bare, a second name of the same server), so each page is fetched and stored once
    canonical_host: str | None = None
    require_licence: bool = False  # items without a licence are kept, marked, and left out of versions
    conditional_pages: bool = True  # item pages re-fetched with If-None-Match / If-Modified-Since
    settings: dict[str, Any] = Field(default_factory=dict)  # Scrapy setting overrides for this source
    # worker processes of each crawl of this source (`harvest crawl NAME`, `harvest schedule`); more than one
    # share one frontier in Redis (`[crawl] redis_url`) for one run; `--workers` overrides it
    workers: int = Field(default=1, ge=1)

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from croniter import croniter

        if not croniter.is_valid(value):
            raise ValueError(
                f"schedule {value!r} is not a cron expression; expected five fields like '0 3 * * *'"
            )
        return value

    @field_validator("allowed_domains", "image_domains")
    @classmethod
    def _hosts(cls, value: list[str], info) -> list[str]:
        for entry in value:
            if not HOST_ENTRY.fullmatch(entry) or (info.field_name == "allowed_domains" and _has_port(entry)):
                port = " or host:port" if info.field_name == "image_domains" else ""
                raise ValueError(
                    f"{info.field_name} entry {entry!r} is not a host name or address{port}; write e.g. "
                    f"'example.com' or '127.0.0.1' (no scheme, no path"
                    + (", no port: ports of a listed private address come from start_urls or image_domains)"
                       if info.field_name == "allowed_domains" else ")")
                )
        return value

    @field_validator("canonical_host")
    @classmethod
    def _canonical_host(cls, value: str | None) -> str | None:
        if value is not None and not HOST_ENTRY.fullmatch(value):
            raise ValueError(f"canonical_host {value!r} is not a host or host:port; write e.g. 'www.example.com'")
        return value

    @model_validator(mode="after")
    def _spider_or_start_urls(self) -> SourceConfig:
        if not self.spider and not self.start_urls and not self.sitemap_urls:
            raise ValueError(
                "a source needs `start_urls` or `sitemap_urls` (the config-driven spider) or `spider` "
                "(a Python spider); add start_urls = [\"https://...\"]"
            )
        return self

    @model_validator(mode="after")
    def _compiled(self) -> SourceConfig:
        """Every selector and regex compiled now, so a typo fails here with its key, not as an empty crawl."""
        from scrapers.selectors import check_regex, check_selector

        check_regex("item_pattern", self.item_pattern)
        for i, rule in enumerate(self.render_urls):
            check_regex(f"render_urls[{i}]", rule)
        if self.render_urls and self.render == "browser":
            raise ValueError('render = "browser" renders every page and render_urls only the pages it matches; '
                             'keep one: drop render = "browser" to render only the render_urls pages')
        for i, rule in enumerate(self.sitemap_rules):
            check_regex(f"sitemap_rules[{i}]", rule)
        for key in ("follow", "item_links", "images"):
            for i, query in enumerate(getattr(self, key)):
                check_selector(f"{key}[{i}]", query)
        for name, query in self.fields.items():
            check_selector(f"fields.{name}", query)
        for key in ("records", "record_key"):
            if getattr(self, key) is not None:
                check_selector(key, getattr(self, key))
        return self

    def scrapy_limits(self) -> dict[str, Any]:
        """The crawl limits as Scrapy settings (0 switches a limit off, as in Scrapy)."""
        return {"CLOSESPIDER_PAGECOUNT": self.max_pages, "DEPTH_LIMIT": self.max_depth,
                "CLOSESPIDER_TIMEOUT": self.max_seconds}

    @property
    def uses_browser(self) -> bool:
        """Whether any page of this source is rendered by the browser."""
        return self.render == "browser" or bool(self.render_urls)

    def renders(self, url: str) -> bool:
        """Whether the page at `url` is rendered by the browser (`render = "browser"`, or a `render_urls` match)."""
        return self.render == "browser" or any(re.search(rule, url) for rule in self.render_urls)

    @property
    def kind(self) -> str:
        return "spider" if self.spider else "config"


def demo_source(base_url: str = f"http://127.0.0.1:{DEMO_PORT}/") -> SourceConfig:
    """The bundled demo site (`harvest demo site`) as a config-driven source."""
    from urllib.parse import urlsplit

    return SourceConfig(
        start_urls=[base_url.rstrip("/") + "/"],
        allowed_domains=[urlsplit(base_url).hostname or "127.0.0.1"],
        follow=["a.next[rel=next]"],
        item_links=["li.listing a.listing-link"],
        item_pattern=r"/listing/[^/]+\.html$",
        fields={"title": "h1.title", "description": "div.description", "price": "span.price"},
        images=["div.gallery"],
    )


def all_sources(hs: Any) -> dict[str, SourceConfig]:
    """harvest settings' sources plus the built-in `demo` (at `[crawl].demo_url`) unless harvest.toml
    defines its own."""
    merged = dict(hs.sources)
    if "demo" not in merged:
        merged["demo"] = demo_source(hs.crawl.demo_url)
    return dict(sorted(merged.items()))
