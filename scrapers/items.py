"""The item every harvest spider yields: a page's content plus its provenance and image URLs."""
from __future__ import annotations

from datetime import datetime, timezone

import scrapy
from scrapy.http import Response, TextResponse
from w3lib.url import canonicalize_url

from scrapers.extract import licence_of


class PageItem(scrapy.Item):
    url = scrapy.Field()  # canonical URL (the item's identity)
    page_url = scrapy.Field()
    referrer = scrapy.Field()
    fetched_at = scrapy.Field()
    http_status = scrapy.Field()
    etag = scrapy.Field()
    last_modified = scrapy.Field()
    robots = scrapy.Field()  # allowed | not-checked
    x_robots = scrapy.Field()  # the page's X-Robots-Tag values, lower-case
    licence = scrapy.Field()
    attribution = scrapy.Field()
    title = scrapy.Field()
    text = scrapy.Field()
    fields = scrapy.Field()
    image_urls = scrapy.Field()
    image_text = scrapy.Field()  # {image URL: {"alt", "title", "caption"}} what the page says about each
    images = scrapy.Field()  # filled by the media pipeline
    rejected = scrapy.Field()  # image URLs refused by the media pipeline, with the reason
    unchanged = scrapy.Field()  # True: the page answered 304 Not Modified; its stored items are seen again


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def page_item(
    response: Response,
    *,
    title: str | None = None,
    text: str | None = None,
    fields: dict | None = None,
    image_urls: list[str] | None = None,
    image_text: dict[str, dict] | None = None,
    licence: str | None = None,
    attribution: str | None = None,
) -> PageItem:
    """A PageItem for `response` with its provenance filled in; Python spiders should yield these too.

    `licence`/`attribution` are the source's defaults, used when the page declares none.
    """
    found_licence, found_attribution = licence_of(response, response.url) if isinstance(response, TextResponse) else (None, None)
    referrer = response.request.headers.get("Referer") if response.request is not None else None
    x_robots = [v.decode("latin-1").lower() for v in response.headers.getlist("X-Robots-Tag")]
    return PageItem(
        url=canonicalize_url(response.url),
        page_url=response.url,
        referrer=referrer.decode("latin-1") if referrer else None,
        fetched_at=datetime.now(timezone.utc),
        http_status=response.status,
        etag=_header(response, "ETag"),
        last_modified=_header(response, "Last-Modified"),
        robots=None,  # set by PolicyPipeline from ROBOTSTXT_OBEY
        x_robots=x_robots,
        licence=found_licence or licence,
        attribution=found_attribution or attribution,
        title=title,
        text=text,
        fields=fields or {},
        image_urls=image_urls or [],
        image_text=image_text or {},
    )
