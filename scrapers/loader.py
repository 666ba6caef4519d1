"""Spider loader: Scrapy's, plus one spider per configured source (so `scrapy list/crawl` see them).

harvest's settings are read through the `HARVEST_SETTINGS` factory named in the Scrapy settings
(a dotted path, as Scrapy names every component), from `HARVEST_CONFIG` or ./harvest.toml.
"""
from __future__ import annotations

from typing import Any

from scrapy import Spider
from scrapy.settings import BaseSettings
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.misc import load_object

from scrapers.config import CrawlConfig, SourceConfig, all_sources
from scrapers.errors import BadSource
from scrapers.spiders.configured import ConfigSpider

VERSION = "0.1"


def harvest_settings(settings: BaseSettings) -> Any:
    """harvest's Settings, via the factory named by the Scrapy setting HARVEST_SETTINGS."""
    factory = load_object(settings.get("HARVEST_SETTINGS", "harvest.settings.load_settings"))
    return factory(settings.get("HARVEST_CONFIG") or None)


def user_agent(crawl: CrawlConfig) -> str:
    return f"harvest/{VERSION} (+{crawl.contact_url})"


def politeness(crawl: CrawlConfig) -> dict[str, Any]:
    """Scrapy settings derived from `[crawl]`: honest User-Agent, bounded per-domain concurrency, body size."""
    return {
        "USER_AGENT": user_agent(crawl),
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.concurrency_per_domain,
        "AUTOTHROTTLE_ENABLED": crawl.autothrottle,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(crawl.concurrency_per_domain),
        # every body, page or image, compressed or not, stops at max_bytes (Scrapy's download handler
        # aborts the transfer; HttpCompressionMiddleware stops inflating at the same limit)
        "DOWNLOAD_MAXSIZE": crawl.max_bytes,
        "DOWNLOAD_WARNSIZE": crawl.max_bytes // 2,
    }


def spider_class(name: str, source: SourceConfig, crawl: CrawlConfig, known: dict[str, type[Spider]]) -> type[Spider]:
    """The spider class of a source: a named subclass carrying the source and its settings."""
    if source.spider:
        base = known.get(source.spider)
        if base is None:
            try:
                base = load_object(source.spider.replace(":", "."))
            except (ImportError, AttributeError, ValueError, NameError) as exc:
                raise BadSource(
                    f"source '{name}': spider {source.spider!r} is neither a spider name in scrapers.spiders "
                    f"({', '.join(sorted(known)) or 'none'}) nor an importable 'module:Class' ({exc}). "
                    f"Fix `spider` in the sources.{name} table of harvest.toml."
                ) from None
    else:
        base = ConfigSpider
    rendered = {}
    if source.uses_browser:  # pages without the browser's mark still go over Scrapy's HTTP handler
        from scrapers.browser import browser_settings

        rendered = browser_settings(crawl.chromium)
    custom = {**politeness(crawl), **source.scrapy_limits(), **rendered,
              **(getattr(base, "custom_settings", None) or {}), **source.settings}
    attrs: dict[str, Any] = {"name": name, "source": source, "custom_settings": custom}
    if base is ConfigSpider and source.sitemap_urls:
        attrs["sitemap_urls"] = list(source.sitemap_urls)
        attrs["sitemap_rules"] = [(rule, "parse_listed") for rule in source.sitemap_rules or [""]]
    if source.start_urls:
        attrs["start_urls"] = list(source.start_urls)
    if source.allowed_domains:
        attrs["allowed_domains"] = list(source.allowed_domains)
    return type(f"{base.__name__}_{name}", (base,), attrs)


class SourceSpiderLoader(SpiderLoader):
    """Scrapy's loader over SPIDER_MODULES, plus every `[sources.NAME]` (and the built-in `demo`)."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self._spiders.pop(ConfigSpider.name, None)
        hs = harvest_settings(settings)
        python_spiders = dict(self._spiders)
        self._broken: dict[str, BadSource] = {}  # reported when that source is crawled, not for all
        for name, source in all_sources(hs).items():
            try:
                self._spiders[name] = spider_class(name, source, hs.crawl, python_spiders)
            except BadSource as exc:
                self._broken[name] = exc

    def load(self, spider_name: str) -> type[Spider]:
        if spider_name in self._broken:
            raise self._broken[spider_name]
        return super().load(spider_name)
