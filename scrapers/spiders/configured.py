"""The config-driven spider: a site described by selectors in `[sources.NAME]`, no Python needed."""
from __future__ import annotations

import re
from urllib.parse import quote
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.spiders import SitemapSpider

from scrapers.config import SourceConfig
from scrapers.extract import found_images, links, looks_like_image, on_canonical_host, select, text_of
from scrapers.items import PageItem, page_item


class ConfigSpider(SitemapSpider):
    """Follows `follow` links (listings, pagination), parses pages reached by `item_links`, matching
    `item_pattern` or listed by a sitemap as items. Subclassed per source by `scrapers.loader` with the
    source's config (and `sitemap_urls` / `sitemap_rules` from it, run by Scrapy's SitemapSpider)."""

    name = "config"  # never listed itself: the loader registers one subclass per source
    source: SourceConfig = SourceConfig.model_construct()  # replaced per source by the loader
    sitemap_rules = [("", "parse_listed")]

    validators: dict[str, tuple[str | None, str | None]] = {}  # page URL -> (ETag, Last-Modified) stored

    async def start(self) -> AsyncIterator[Any]:
        self.validators = self._stored_validators()
        for url in self.source.start_urls:
            yield self._page_request(scrapy.Request(url, callback=self.parse))
        async for request in super().start():  # the sitemaps, if any
            yield request

    def _stored_validators(self) -> dict[str, tuple[str | None, str | None]]:
        # revalidate_images asks every image URL again: its pages must be parsed again too
        if not self.source.conditional_pages or self.source.render == "browser" or self.source.revalidate_images:
            return {}
        from scrapy.exceptions import NotConfigured

        from scrapers.context import CrawlContext
        from storage.collect import page_validators

        try:
            ctx = CrawlContext.of(self.crawler)
        except NotConfigured:  # HARVEST_STORE off: nothing stored to compare with
            return {}
        with ctx.sessions() as session:
            return page_validators(session, ctx.source_id)

    def _is_item(self, url: str) -> bool:
        return bool(self.source.item_pattern and re.search(self.source.item_pattern, url))

    def _conditional(self, request: scrapy.Request) -> bool:
        """Whether a stored item page may be asked "changed since?": only when harvest would not look for
        links on it (a detail page reached by `item_links`, or a source without link rules), so a 304
        hides no link. Listing pages are always fetched in full."""
        if request.url not in self.validators:
            return False
        return request.callback == self.parse_item or not (self.source.follow or self.source.item_links)

    def _page_request(self, request: scrapy.Request) -> scrapy.Request:
        """A page request as the source wants it: through the browser, or conditional when it is a stored item page."""
        if self.source.renders(request.url):
            from scrapers.browser import page_meta

            request.meta.update(page_meta(self.source.scrolls))
        elif self._conditional(request):
            etag, modified = self.validators[request.url]
            if etag:
                request.headers["If-None-Match"] = etag
            if modified:
                request.headers["If-Modified-Since"] = modified
            request.meta["handle_httpstatus_list"] = [304]
        return request

    def _parse_sitemap(self, response: Response) -> Iterator[Any]:
        for request in super()._parse_sitemap(response):
            yield self._page_request(request) if request.callback == self.parse_listed else request

    def _request(self, url: str, callback) -> scrapy.Request | None:
        if looks_like_image(url):  # an image is the media pipeline's to fetch, once, never a page
            self.crawler.stats.inc_value("harvest/links_to_images_not_followed")
            return None
        try:
            return self._page_request(scrapy.Request(self._canonical(url), callback=callback))
        except ValueError:  # a malformed link costs that link alone
            self.crawler.stats.inc_value("harvest/links_malformed")
            return None

    def _canonical(self, url: str) -> str:
        """`url` on the source's `canonical_host` when it is on one of the allowed domains."""
        canonical = on_canonical_host(url, self.source.canonical_host, self.source.allowed_domains)
        if canonical != url:
            self.crawler.stats.inc_value("harvest/links_canonicalised")
        return canonical

    def _unchanged(self, response: Response) -> bool:
        return response.status == 304

    def _unchanged_item(self, response: Response) -> PageItem:
        """A 304 to a conditional request: the page's stored items are seen again, nothing is re-parsed."""
        self.crawler.stats.inc_value("harvest/pages_unchanged")
        return PageItem(url=response.url, page_url=response.url, unchanged=True, image_urls=[])

    def _text(self, response: Response) -> bool:
        self.crawler.stats.inc_value("harvest/pages")
        if response.meta.get("playwright"):
            self.crawler.stats.inc_value("harvest/pages_rendered")
        if isinstance(response, TextResponse):
            return True
        self.crawler.stats.inc_value("harvest/pages_not_text")  # an image or a PDF reached by a link
        return False

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if self._unchanged(response):
            yield self._unchanged_item(response)
            return
        if not self._text(response):
            return
        if self._is_item(response.url):
            yield from self.items_from(response)
        yield from self._follow_links(response)

    def parse_listed(self, response: Response) -> Iterator[Any]:
        """A page listed by a sitemap: an item unless `item_pattern` says otherwise; its links followed."""
        if self._unchanged(response):
            yield self._unchanged_item(response)
            return
        if not self._text(response):
            return
        if not self.source.item_pattern or self._is_item(response.url):
            yield from self.items_from(response)
        yield from self._follow_links(response)

    def _follow_links(self, response: TextResponse) -> Iterator[scrapy.Request]:
        if self.source.max_depth and response.meta.get("depth", 0) >= self.source.max_depth:
            # Scrapy's DepthMiddleware would drop them silently: counted, so the run can say why it ended
            count = sum(len(links(response, q, response.url)) for q in [*self.source.follow, *self.source.item_links])
            if count:
                self.crawler.stats.inc_value("harvest/links_beyond_max_depth", count)
            return
        for query in self.source.follow:
            for url in links(response, query, response.url):
                if (request := self._request(url, self.parse)) is not None:
                    yield request
        for query in self.source.item_links:
            for url in links(response, query, response.url):
                if (request := self._request(url, self.parse_item)) is not None:
                    yield request

    def parse_item(self, response: Response) -> Iterator[PageItem]:
        if self._unchanged(response):
            yield self._unchanged_item(response)
        elif self._text(response):
            yield from self.items_from(response)

    def items_from(self, response: TextResponse) -> Iterator[PageItem]:
        """One item per page, or with `records` one per record on it (fields and images relative to it)."""
        if not self.source.records:
            yield self.item_from(response, response)
            return
        seen: set[str] = set()
        for index, record in enumerate(select(response, self.source.records)):
            item = self.item_from(response, record)
            key = (text_of(record, self.source.record_key) if self.source.record_key else None) \
                or (item["image_urls"][0] if item["image_urls"] else str(index + 1))
            if key in seen:  # the same record twice on a page: stored once
                continue
            seen.add(key)
            item["url"] = f"{item['url']}#record={quote(key, safe='/:')}"
            self.crawler.stats.inc_value("harvest/records")
            yield item

    def item_from(self, response: TextResponse, scope) -> PageItem:
        fields = {name: text_of(scope, query) for name, query in self.source.fields.items()}
        found = found_images(scope, self.source.images, response.url)
        caption = fields.get("caption")
        words = {url: {**said, "caption": said.get("caption") or caption} for url, _rule, said in found}
        return page_item(
            response,
            title=fields.get("title"),
            text=fields.get("description") or fields.get("text"),
            fields=fields,
            image_urls=[url for url, _rule, _said in found],
            image_text=words,
            licence=self.source.licence,
            attribution=self.source.attribution,
        )
