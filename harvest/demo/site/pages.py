"""HTML and text pages of the demo site: robots.txt, paginated listing pages and detail pages.

Markup contract (what spiders select on):

- listing pages: ``ul.listings > li.listing > a.listing-link[href]`` and ``a.next[rel=next]``;
- detail pages: ``h1.title``, ``div.description``, ``span.price``, images inside ``div.gallery``, and a
  licence as ``a[rel=license]``, ``meta[name=license]`` or JSON-LD ``license`` + ``creator``/``copyrightHolder``.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from html import escape
from typing import TYPE_CHECKING

from harvest.demo.site import images
from harvest.demo.site.model import GalleryItem, Listing

if TYPE_CHECKING:
    from harvest.demo.site.generator import SiteData

SITE_NAME = "Harvest Classifieds (demo)"
HTML = "text/html; charset=utf-8"
ROBOTS = "User-agent: *\nDisallow: /private/\n"


def page_path(n: int) -> str:
    return f"/listings/page-{n}.html"


def _head(title: str, extra: str = "") -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{escape(title)} – {SITE_NAME}</title>\n'
        f"{extra}</head>\n<body>\n<header><a class=\"home\" href=\"/\">{SITE_NAME}</a></header>\n"
    )


_FOOT = '<footer><p>Demo data for harvest. Generated, not real.</p></footer>\n</body>\n</html>\n'


def index_page(n: int, total: int, links: list[tuple[str, str, str]]) -> str:
    """Listing page `n` of `total`; `links` are (href, title, price)."""
    rel = [f'<link rel="next" href="{page_path(n + 1)}">\n'] if n < total else []
    out = [_head(f"Listings, page {n}", "".join(rel)), f"<main>\n<h1>Listings – page {n} of {total}</h1>\n",
           '<ul class="listings">\n']
    for href, title, price in links:
        out.append(f'  <li class="listing"><a class="listing-link" href="{href}">{escape(title)}</a>'
                   f' <span class="price">{escape(price)}</span></li>\n')
    out.append('</ul>\n<nav class="pagination">')
    if n > 1:
        prev = "/" if n == 2 else page_path(n - 1)
        out.append(f'<a class="prev" rel="prev" href="{prev}">« previous</a> ')
    if n < total:
        out.append(f'<a class="next" rel="next" href="{page_path(n + 1)}">next »</a>')
    out.append("</nav>\n</main>\n" + _FOOT)
    return "".join(out)


def gallery_item(item: GalleryItem) -> str:
    """One item's markup; every form puts the URL to store somewhere a careful spider can find it."""
    alt, url = escape(item.alt), item.url
    if item.form == "full_link":
        return f'<a class="full" href="{url}"><img src="{item.others[0]}" alt="{alt}" width="160"></a>'
    if item.form == "lazy":
        return f'<img class="lazy" src="/static/placeholder.gif" data-src="{url}" alt="{alt}">'
    if item.form == "srcset":
        small = item.others[0]
        return (f'<img srcset="{small} {item.small_width}w, {url} {item.width}w" '
                f'sizes="(max-width: 600px) 320px, {item.width}px" src="{small}" alt="{alt}">')
    if item.form == "background":
        return f"<div class=\"photo\" style=\"background-image: url('{url}')\" title=\"{alt}\"></div>"
    if item.form == "data_full":
        return f'<img data-full="{url}" src="/static/placeholder.gif" alt="{alt}">'
    return f'<img src="{url}" alt="{alt}">'


def _json_ld(listing: Listing) -> str:
    lic = listing.licence
    data = {
        "@context": "https://schema.org",
        "@type": "ImageGallery",
        "name": listing.title,
        "license": lic.url,
        lic.attribution_field: {"@type": "Person", "name": lic.attribution},
        "associatedMedia": [{"@type": "ImageObject", "contentUrl": i.url} for i in listing.gallery],
    }
    return f'<script type="application/ld+json">\n{json.dumps(data, indent=1, ensure_ascii=False)}\n</script>\n'


def detail_page(listing: Listing) -> str:
    """A listing's detail page; the malformed one leaves tags unclosed but keeps its title and image."""
    lic = listing.licence
    head_extra = f'<link rel="canonical" href="{listing.path}">\n'
    if lic and lic.via == "meta":
        head_extra += f'<meta name="license" content="{lic.url}">\n'
    if lic and lic.via == "json-ld":
        head_extra += _json_ld(listing)
    gallery = "\n".join("  " + gallery_item(i) for i in listing.gallery)
    meta = (f'<p class="meta">Posted <time datetime="{listing.posted}">{listing.posted}</time> by '
            f'<span class="seller">{escape(listing.seller)}</span></p>\n')
    licence = ""
    if lic and lic.via == "rel-license":
        licence = f'<p class="licence">Photos licensed under <a rel="license" href="{lic.url}">{lic.name}</a></p>\n'
    if listing.malformed:
        return (_head(listing.title, head_extra) + '<article class="listing-detail">\n'
                f'<h1 class="title">{escape(listing.title)}</h1>\n<span class="price">{escape(listing.price)}</span>\n'
                + licence.replace("</p>", "") +
                f'<div class="description"><p>{escape(listing.description)} <b>Must go!\n<p>Call after 6pm<br>\n'
                f'<table><tr><td>Condition<td>used\n'
                f'<div class="gallery">\n{gallery}\n<p class=note>More photos on request\n')
    return (
        _head(listing.title, head_extra) + '<main>\n<article class="listing-detail">\n'
        f'<h1 class="title">{escape(listing.title)}</h1>\n<span class="price">{escape(listing.price)}</span>\n'
        + meta + f'<div class="description"><p>{escape(listing.description)}</p></div>\n'
        f'<div class="gallery">\n{gallery}\n</div>\n' + licence
        + '<p class="back"><a href="/">Back to all listings</a></p>\n</article>\n</main>\n' + _FOOT
    )


def not_found_page(path: str) -> bytes:
    return (_head("Not found") + f"<main><h1>404 – nothing at {escape(path)}</h1></main>\n" + _FOOT).encode()


def add_pages(site: SiteData, add: Callable[..., None]) -> None:
    """Register robots.txt, the placeholder, every listing page (and `/`) and every detail page."""
    add("/robots.txt", ROBOTS.encode(), "text/plain; charset=utf-8")
    add("/static/placeholder.gif", images.placeholder_gif(), "image/gif")
    by_path = {lst.path: lst for lst in site.listings + site.private}
    total = len(site.index_pages)
    for n, hrefs in enumerate(site.index_pages, start=1):
        links = [(h, by_path[h].title, by_path[h].price) if h in by_path else (h, "Sold: bike trailer", "€60")
                 for h in hrefs]
        body = index_page(n, total, links).encode()
        add(page_path(n), body, HTML)
        if n == 1:
            add("/", body, HTML)
    for listing in site.listings + site.private:
        add(listing.path, detail_page(listing).encode(), HTML, listing.behaviour)
