"""Test sites in the shapes a user meets, each with its config and its expected result written by hand.

`routes()` is what the server answers; `source(base)` the `[sources.NAME]` table a user would write;
`EXPECTED` the items (path + record key), their fields, and per item its images (path, alt, title, caption).
"""
from __future__ import annotations

from tests.scrapers.sites import html, png


def _page(body: str) -> str:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>"


# --- a photo gallery: thumbnails linking to full-size photos, a caption per photo, pagination, external links
def _figure(n: int, alt: str, caption: str) -> str:
    return (f'<figure class="photo"><a href="/full/{n}.png" title="Photo {n}"><img src="/thumb/{n}.png" '
            f'alt="{alt}"></a><figcaption>{caption}</figcaption></figure>')


GALLERY = {
    "routes": lambda: {
        "/": html(_page('<a href="/gallery/1.html">Gallery</a> <a href="https://example.com/">friends</a>')),
        "/gallery/1.html": html(_page(_figure(1, "A red boat", "Boat at dawn") + _figure(2, "Two gulls", "Gulls")
                                      + '<a rel="next" href="/gallery/2.html">next</a> <a href="/about.html">about</a>')),
        "/gallery/2.html": html(_page(_figure(3, "Harbour", "The harbour at noon")
                                      + '<a href="http://example.org/elsewhere">elsewhere</a>')),
        "/about.html": html(_page("<p>About this gallery</p>")),
        **{f"/full/{n}.png": png(n, (96, 72)) for n in (1, 2, 3)},
        **{f"/thumb/{n}.png": png(100 + n, (40, 30)) for n in (1, 2, 3)},
    },
    "source": lambda base: {"start_urls": [base + "/"], "allowed_domains": ["127.0.0.1"], "follow": ["a"],
                            "item_pattern": r"/gallery/\d+\.html$", "records": "figure.photo",
                            "fields": {"title": "figcaption"}, "images": ["figure"], "licence": "CC-BY-4.0"},
    "expected": {
        ("/gallery/1.html", "/full/1.png"): ({"title": "Boat at dawn"},
                                             [("/full/1.png", "A red boat", "Photo 1", "Boat at dawn")]),
        ("/gallery/1.html", "/full/2.png"): ({"title": "Gulls"}, [("/full/2.png", "Two gulls", "Photo 2", "Gulls")]),
        ("/gallery/2.html", "/full/3.png"): ({"title": "The harbour at noon"},
                                             [("/full/3.png", "Harbour", "Photo 3", "The harbour at noon")]),
    },
    "never_requested": ["/thumb/1.png", "/thumb/2.png", "/thumb/3.png"],
}


# --- a shop template: product cards with photos in CSS backgrounds, `href="#"` wish-list links, products
# repeated across listing pages (one asset, linked from both), a broken link
def _card(sku: str, name: str, price: str, img: int) -> str:
    return (f'<div class="card" data-sku="{sku}"><div class="pic" style="background-image: url(\'/img/p{img}.png\')">'
            f'</div><h3>{name}</h3><span class="price">{price}</span><a href="#" class="wish">&#9825;</a>'
            f'<a href="/product/{sku}.html">details</a></div>')


SHOP = {
    "routes": lambda: {
        "/shop/": html(_page(_card("mug", "Mug", "$5", 1) + _card("cap", "Cap", "$12", 2)
                             + '<a class="page" href="/shop/2">2</a> <a class="page" href="/shop/9">9</a>')),
        "/shop/2": html(_page(_card("tee", "T-shirt", "$20", 3) + _card("mug", "Mug", "$5", 1))),
        **{f"/img/p{n}.png": png(200 + n, (80, 80)) for n in (1, 2, 3)},
    },
    "source": lambda base: {"start_urls": [base + "/shop/"], "allowed_domains": ["127.0.0.1"],
                            "follow": ["a.page"], "item_pattern": r"/shop/(\d+)?$", "records": "div.card",
                            "record_key": "xpath:@data-sku", "fields": {"name": "h3", "price": ".price"},
                            "images": ["div.pic"], "licence": "CC0-1.0", "settings": {"RETRY_TIMES": 0}},
    "expected": {
        ("/shop/", "mug"): ({"name": "Mug", "price": "$5"}, [("/img/p1.png", None, None, None)]),
        ("/shop/", "cap"): ({"name": "Cap", "price": "$12"}, [("/img/p2.png", None, None, None)]),
        ("/shop/2", "tee"): ({"name": "T-shirt", "price": "$20"}, [("/img/p3.png", None, None, None)]),
        ("/shop/2", "mug"): ({"name": "Mug", "price": "$5"}, [("/img/p1.png", None, None, None)]),
    },
    "failed": ["/shop/9: HTTP 404"],
}


# --- responsive images: <picture> with srcset candidates, lazy `data-src` over a placeholder
LAZY = {
    "routes": lambda: {
        "/": html(_page('<a class="art" href="/a/1.html">1</a>')),
        "/a/1.html": html(_page(
            '<h1>Article</h1><div class="body">'
            '<picture><source srcset="/r/a-400.png 400w, /r/a-800.png 800w"><img src="/r/a-400.png" alt="Hero">'
            '</picture><img class="lazy" src="/r/blank.gif" data-src="/r/b.png" alt="Second" title="B">'
            '<img srcset="/r/c.png 1x, /r/c@2x.png 2x" src="/r/c.png"></div>')),
        "/r/a-400.png": png(301, (40, 40)), "/r/a-800.png": png(302, (80, 80)), "/r/b.png": png(303, (64, 64)),
        "/r/c.png": png(304, (40, 40)), "/r/c@2x.png": png(305, (80, 80)),
    },
    "source": lambda base: {"start_urls": [base + "/"], "allowed_domains": ["127.0.0.1"], "item_links": ["a.art"],
                            "fields": {"title": "h1"}, "images": ["div.body"], "licence": "CC0-1.0"},
    "expected": {
        ("/a/1.html", None): ({"title": "Article"}, [("/r/a-800.png", "Hero", None, None),
                                                    ("/r/b.png", "Second", "B", None),
                                                    ("/r/c@2x.png", None, None, None)]),
    },
    "never_requested": ["/r/a-400.png", "/r/blank.gif", "/r/c.png"],
}


# --- a sitemap-only site: no links between pages, only /sitemap.xml lists them
def _sitemap(base: str) -> str:
    urls = "".join(f"<url><loc>{base}/p/{n}.html</loc></url>" for n in (1, 2))
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'


SITEMAP = {
    "routes": lambda: {
        "/p/1.html": html(_page('<h1>One</h1><img src="/i/1.png" alt="one">')),
        "/p/2.html": html(_page('<h1>Two</h1><img src="/i/2.png" alt="two">')),
        "/i/1.png": png(401), "/i/2.png": png(402),
    },
    "dynamic": {"/sitemap.xml": _sitemap},
    "source": lambda base: {"sitemap_urls": [base + "/sitemap.xml"], "allowed_domains": ["127.0.0.1"],
                            "fields": {"title": "h1"}, "images": ["img"], "licence": "CC0-1.0"},
    "expected": {
        ("/p/1.html", None): ({"title": "One"}, [("/i/1.png", "one", None, None)]),
        ("/p/2.html", None): ({"title": "Two"}, [("/i/2.png", "two", None, None)]),
    },
}

SITES = {"gallery": GALLERY, "shop": SHOP, "lazy": LAZY, "sitemap": SITEMAP}


# --- a crawler trap: an endless calendar (every month links the month before and after); max_depth ends it
def _month(path: str):
    """A calendar page, an event page or an event's poster, for any month that parses."""
    path = path.split("?", 1)[0]
    name = path.rsplit("/", 1)[-1].removesuffix(".html").removesuffix(".png")
    try:
        year, month = (int(part) for part in name.split("-"))
    except ValueError:
        return None
    if path == f"/img/{name}.png":
        return png(year * 12 + month, (48, 48))
    if path == f"/event/{name}.html":
        return html(_page(f'<h1>Event of {name}</h1><img src="/img/{name}.png" alt="poster {name}">'))
    if path != f"/cal/{name}.html":
        return None
    prev = f"{year - (month == 1)}-{(month - 2) % 12 + 1:02d}"
    nxt = f"{year + (month == 12)}-{month % 12 + 1:02d}"
    return html(_page(f'<a class="prev" href="/cal/{prev}.html">prev</a> <a class="next" href="/cal/{nxt}.html">next</a>'
                      f' <a class="event" href="/event/{name}.html">event</a>'))


def _event(name: str):
    return ("/event/" + name + ".html", None), ({"title": f"Event of {name}"},
                                                [(f"/img/{name}.png", f"poster {name}", None, None)])


CALENDAR = {
    "routes": dict,
    "fallback": _month,
    "source": lambda base: {"start_urls": [base + "/cal/2026-01.html"], "allowed_domains": ["127.0.0.1"],
                            "follow": ["a.prev", "a.next"], "item_links": ["a.event"], "fields": {"title": "h1"},
                            "images": ["img"], "max_depth": 3, "licence": "CC0-1.0"},
    # depth 0: 2026-01; 1: 2025-12, 2026-02 and the 2026-01 event; 2: 2025-11, 2026-03 and two events;
    # 3: 2025-10, 2026-04 and two events; the links of depth-3 pages (3 each) lie beyond max_depth
    "expected": dict(_event(m) for m in ("2025-11", "2025-12", "2026-01", "2026-02", "2026-03")),
    "limit": ("max_depth", 6),
    "not_modified": 5,
}


# --- a site whose links are absolute URLs to its canonical name (127.0.0.1), crawled from its other name
# (localhost), some links relative: with canonical_host each page is fetched and stored once, on that name
def _posts(base: str) -> str:
    return _page(f'<a class="post" href="{base}/p/1.html">one</a> <a class="post" href="/p/2.html">two</a>'
                 f' <a class="post" href="{base}/p/2.html">two again</a>')


CANONICAL = {
    "routes": lambda: {
        "/p/1.html": html(_page('<h1>Post one</h1><img src="/i/1.png" alt="first">')),
        "/p/2.html": html(_page('<h1>Post two</h1><img src="/i/2.png" alt="second">')),
        "/i/1.png": png(501), "/i/2.png": png(502),
    },
    "dynamic": {"/": _posts},
    "source": lambda base: {"start_urls": [base.replace("127.0.0.1", "localhost") + "/"],
                            "allowed_domains": ["localhost", "127.0.0.1"], "canonical_host": base.split("//")[1],
                            "item_links": ["a.post"], "fields": {"title": "h1"}, "images": ["img"],
                            "licence": "CC0-1.0"},
    "expected": {
        ("/p/1.html", None): ({"title": "Post one"}, [("/i/1.png", "first", None, None)]),
        ("/p/2.html", None): ({"title": "Post two"}, [("/i/2.png", "second", None, None)]),
    },
    "hosts": {"127.0.0.1"},
    "not_modified": 2,
}

GALLERY["not_modified"] = SHOP["not_modified"] = 0  # listing pages (links followed) are always fetched in full
LAZY["not_modified"], SITEMAP["not_modified"] = 1, 2
SITES.update(calendar=CALENDAR, canonical=CANONICAL)
