"""The config-driven spider: a site described by selectors in `[sources.NAME]`, no Python needed."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from scrapers.config import SourceConfig
from scrapers.extract import image_urls, links, text_of
from scrapers.items import PageItem, page_item


class ConfigSpider(scrapy.Spider):
    """Follows `follow` links (listings, pagination), parses pages reached by `item_links` or matching
    `item_pattern` as items. Subclassed per source by `scrapers.loader` with the source's config."""

    name = "config"  # never listed itself: the loader registers one subclass per source
    source: SourceConfig = SourceConfig.model_construct()  # replaced per source by the loader

    async def start(self) -> AsyncIterator[Any]:
        for url in self.source.start_urls:
            yield scrapy.Request(url, callback=self.parse)

    def _is_item(self, url: str) -> bool:
        return bool(self.source.item_pattern and re.search(self.source.item_pattern, url))

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        self.crawler.stats.inc_value("harvest/pages")
        if not hasattr(response, "css"):
            return
        if self._is_item(response.url):
            yield self.item_from(response)
        for query in self.source.follow:
            for url in links(response, query, response.url):
                yield scrapy.Request(url, callback=self.parse)
        for query in self.source.item_links:
            for url in links(response, query, response.url):
                yield scrapy.Request(url, callback=self.parse_item)

    def parse_item(self, response: Response) -> Iterator[PageItem]:
        self.crawler.stats.inc_value("harvest/pages")
        if hasattr(response, "css"):
            yield self.item_from(response)

    def item_from(self, response: Response) -> PageItem:
        fields = {name: text_of(response, query) for name, query in self.source.fields.items()}
        return page_item(
            response,
            title=fields.get("title"),
            text=fields.get("description") or fields.get("text"),
            fields=fields,
            image_urls=image_urls(response, self.source.images, response.url),
            licence=self.source.licence,
            attribution=self.source.attribution,
        )
