"""A dry run of a config-driven source on one page (like `scrapy parse`): what it would extract and
follow, and what each selector matched. Nothing is stored and no image is downloaded."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from scrapy.http import HtmlResponse, Request, TextResponse

from scrapers.config import SourceConfig
from scrapers.extract import found_images, links, looks_like_image, on_canonical_host, select, text_of


@dataclass
class PageReport:
    url: str
    status: int
    content_type: str
    is_item: bool
    why_item: str
    matches: dict[str, int] = field(default_factory=dict)  # selector key -> number of matches
    items: list[dict[str, Any]] = field(default_factory=list)  # fields and images of each item
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (url, key, what the crawl would do)


def response_of(url: str, status: int, headers: dict[str, str], body: bytes) -> TextResponse | None:
    kind = headers.get("content-type", "")
    if "html" not in kind and "xml" not in kind and not body.lstrip()[:1] == b"<":
        return None
    return HtmlResponse(url, status=status, headers=headers, body=body, request=Request(url))


def _allowed(url: str, domains: list[str]) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return not domains or any(host == d or host.endswith("." + d) for d in (d.lower() for d in domains))


def _link_fate(url: str, key: str, source: SourceConfig) -> str:
    if looks_like_image(url):
        return "not followed: an image (the media pipeline fetches images)"
    if not _allowed(url, source.allowed_domains):
        return f"not followed: host {urlsplit(url).hostname} is outside allowed_domains"
    if key.startswith("item_links"):
        return "followed as an item page"
    if source.item_pattern and re.search(source.item_pattern, url):
        return "followed; an item page (matches item_pattern)"
    return "followed as a listing page"


def check_page(source: SourceConfig, response: TextResponse, listed: bool = False) -> PageReport:
    """What the config-driven spider does with `response` (`listed`: reached through a sitemap)."""
    if source.item_pattern:
        is_item = bool(re.search(source.item_pattern, response.url))
        why = f"URL {'matches' if is_item else 'does not match'} item_pattern {source.item_pattern!r}"
    elif listed or source.sitemap_urls:
        is_item, why = True, "listed by a sitemap and no item_pattern"
    elif source.item_links:
        is_item, why = False, "no item_pattern: an item when reached through item_links"
    else:
        is_item, why = False, "no item_pattern: only pages reached through item_links are items"
    report = PageReport(response.url, response.status, response.headers.get("Content-Type", b"").decode(),
                        is_item, why)
    keys = {f"follow[{i}]": q for i, q in enumerate(source.follow)}
    keys |= {f"item_links[{i}]": q for i, q in enumerate(source.item_links)}
    scopes = select(response, source.records) if source.records else [response]
    if source.records:
        report.matches["records"] = len(scopes)
    for key, query in {**{f"images[{i}]": q for i, q in enumerate(source.images)},
                       **{f"fields.{n}": q for n, q in source.fields.items()}, **keys}.items():
        report.matches[key] = sum(len(select(scope, query)) for scope in scopes) if not key.startswith(
            ("follow", "item_links")) else len(select(response, query))
    for scope in scopes:
        fields = {name: text_of(scope, query) for name, query in source.fields.items()}
        images = [{"url": url, "rule": rule, **words} for url, rule, words in
                  found_images(scope, source.images, response.url)]
        key = text_of(scope, source.record_key) if source.records and source.record_key else None
        report.items.append({"key": key, "fields": fields, "images": images})
    for key, query in keys.items():
        for url in links(response, query, response.url):
            canonical = on_canonical_host(url, source.canonical_host, source.allowed_domains)
            fate = _link_fate(canonical, key, source)
            if canonical != url and not fate.startswith("not followed"):
                fate += f", as {canonical} (canonical_host)"
            report.links.append((url, key, fate))
    return report
