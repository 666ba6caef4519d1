"""Pure extraction helpers over parsel selectors: fields, links, image URLs and licences.

A selector string is CSS, or XPath when prefixed with `xpath:`.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

from parsel import Selector, SelectorList

IMAGE_EXT = re.compile(r"\.(jpe?g|png|gif|webp|avif|bmp|tiff?)(\?|#|$)", re.I)
LAZY_ATTRS = ("data-src", "data-lazy-src", "data-original", "data-lazy", "data-srcset", "data-full",
              "data-full-src", "data-large", "data-image", "data-img", "data-bg", "data-background")
BACKGROUND = re.compile(r"background(?:-image)?\s*:[^;]*url\(\s*(['\"]?)(.*?)\1\s*\)", re.I)
_SPACE = re.compile(r"\s+")


def join(base_url: str, value: str) -> str:
    """`value` resolved against `base_url`; a URL that cannot be parsed (`http://[::1`) is kept as written,
    so that the image pipeline refuses that one URL with its reason instead of the page failing."""
    value = value.strip()
    try:
        return urljoin(base_url, value)
    except ValueError:
        return value


def looks_like_image(url: str) -> bool:
    """Whether a URL names an image file by its extension (the path, not the query)."""
    try:
        return bool(IMAGE_EXT.search(urlsplit(url).path))
    except ValueError:
        return False


def on_canonical_host(url: str, canonical_host: str | None, domains: list[str]) -> str:
    """`url` moved to `canonical_host` (host[:port]) when its host is one of `domains` (or a subdomain)."""
    if not canonical_host:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = (parts.hostname or "").lower()
    if host and any(host == d or host.endswith("." + d) for d in domains):
        return parts._replace(netloc=canonical_host).geturl()
    return url


def select(sel: Selector | SelectorList, query: str) -> SelectorList:
    if query.startswith("xpath:"):
        return sel.xpath(query[len("xpath:"):])
    return sel.css(query)


def text_of(sel: Selector | SelectorList, query: str) -> str | None:
    """The whitespace-normalised text of everything `query` matches (attribute values as they are)."""
    matches = select(sel, query)
    parts: list[str] = []
    for match in matches:
        if isinstance(match.root, str):
            parts.append(match.root)
        else:
            parts.extend(match.xpath(".//text()").getall())
    text = _SPACE.sub(" ", " ".join(parts)).strip()
    return text or None


def links(sel: Selector, query: str, base_url: str) -> list[str]:
    """Absolute URLs of the links `query` matches (elements' href, or attribute/text values)."""
    out: list[str] = []
    for match in select(sel, query):
        value = match.root if isinstance(match.root, str) else match.attrib.get("href")
        if value and _usable(value) and not value.strip().lower().startswith(("mailto:", "tel:", "#")):
            out.append(join(base_url, value))
    return list(dict.fromkeys(out))


def largest_from_srcset(srcset: str) -> str | None:
    """The candidate with the largest width (`w`) or density (`x`) descriptor; bare URLs count as 1x."""
    best: tuple[int, float, str] | None = None
    for candidate in re.split(r",\s+|,(?=\S+\s)", srcset.strip()):
        parts = candidate.strip().split()
        if not parts:
            continue
        url, descriptor = parts[0].rstrip(","), (parts[1] if len(parts) > 1 else "1x")
        try:
            rank = (1, float(descriptor[:-1])) if descriptor.endswith("w") else (0, float(descriptor[:-1] or 1))
        except ValueError:
            continue
        key = (*rank, url)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else None


def _usable(url: str | None) -> bool:
    return bool(url) and not url.strip().lower().startswith(("data:", "javascript:", "about:"))


def _element_images(el) -> Iterator[tuple[str, str]]:
    """(image URL, rule) one element carries, best first: full-size links, srcset, lazy/data-*, src, background."""
    tag = el.tag if isinstance(el.tag, str) else ""
    attrs = el.attrib
    if tag == "a":  # the full-size image only when the link names an image file, never `#` or a page
        href = attrs.get("href")
        if _usable(href) and looks_like_image(href.strip()):
            yield href, "a[href] to an image"
        return
    if tag == "picture":  # one image: the largest candidate of its <source>s, else its <img>
        for child in el.iter("source", "img"):
            if child is not el and (found := next(_element_images(child), None)):
                yield found[0], f"picture > {found[1]}"
                return
        return
    for name in ("data-srcset", "srcset"):
        if attrs.get(name) and (best := largest_from_srcset(attrs[name])):
            yield best, f"{tag}[{name}] largest"
            return
    for name in LAZY_ATTRS:
        if name != "data-srcset" and _usable(attrs.get(name)):
            yield attrs[name], f"{tag}[{name}]"
            return
    if tag == "img" and _usable(attrs.get("src")):
        yield attrs["src"], "img[src]"
        return
    if (match := BACKGROUND.search(attrs.get("style", ""))) and _usable(match.group(2)):
        yield match.group(2), f"{tag}[style] background"
        return
    for name, value in attrs.items():
        if name.startswith("data-") and _usable(value) and IMAGE_EXT.search(value):
            yield value, f"{tag}[{name}]"
            return


def _clean(value: str | None) -> str | None:
    text = _SPACE.sub(" ", value or "").strip()
    return text or None


def words_of(el) -> dict[str, str | None]:
    """What the page says about the image `el` stands for: alt text, title, and the `<figcaption>` of the
    `<figure>` around it."""
    img = el if el.tag == "img" else next(iter(el.iter("img")), None)
    alt = _clean(img.get("alt")) if img is not None else None
    title = _clean(el.get("title") or (img.get("title") if img is not None else None))
    caption = None
    for parent in el.iterancestors("figure"):
        caption = next((_clean(" ".join(fc.itertext())) for fc in parent.iter("figcaption")), None)
        break
    return {"alt": alt, "title": title, "caption": caption}


def found_images(sel: Selector | SelectorList, queries: list[str], base_url: str) -> list[tuple[str, str, dict]]:
    """(absolute image URL, rule that found it, words about it) inside the elements `queries` match, in
    document order, first find per URL. An `<a href>` to an image around a thumbnail stands for its
    full-size image: the thumbnail inside is skipped."""
    out: dict[str, tuple[str, str, dict]] = {}
    for query in queries:
        for match in select(sel, query):
            if isinstance(match.root, str):
                url = join(base_url, match.root)
                out.setdefault(url, (url, f"{query!r} value", {}))
                continue
            skip: set = set()
            for el in match.root.iter():
                if el in skip or not isinstance(el.tag, str):
                    continue
                found = list(_element_images(el))
                if found:
                    url = join(base_url, found[0][0])
                    out.setdefault(url, (url, found[0][1], words_of(el)))
                    if el.tag in ("a", "picture"):
                        skip.update(el.iter())
    return list(out.values())


def image_urls(sel: Selector | SelectorList, queries: list[str], base_url: str) -> list[str]:
    """Absolute image URLs inside the elements `queries` match, in document order, without repeats."""
    return [url for url, _rule, _words in found_images(sel, queries, base_url)]


def _json_ld(sel: Selector) -> Iterator[dict]:
    for raw in sel.css('script[type="application/ld+json"]::text').getall():
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        stack = [data]
        while stack:
            node = stack.pop()
            if isinstance(node, list):
                stack.extend(node)
            elif isinstance(node, dict):
                yield node
                stack.extend(v for v in node.values() if isinstance(v, (dict, list)))


def _name(value) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return _name(value.get("name") or value.get("@id") or value.get("url"))
    if isinstance(value, list) and value:
        return _name(value[0])
    return None


def licence_of(sel: Selector, base_url: str) -> tuple[str | None, str | None]:
    """(licence, attribution) declared by the page: rel=license, meta tags, or schema.org JSON-LD."""
    licence = sel.xpath(
        "//*[self::a or self::link][contains(concat(' ', normalize-space(@rel), ' '), ' license ')]/@href"
    ).get()
    if licence:
        licence = join(base_url, licence)
    for name in ("license", "dc.rights", "dcterms.license", "dc.license", "og:license"):
        if licence:
            break
        licence = sel.xpath(
            f"//meta[translate(@name, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')='{name}' "
            f"or @property='{name}']/@content"
        ).get()
    attribution = sel.xpath("//meta[@name='author' or @name='dc.creator']/@content").get()
    for node in _json_ld(sel):
        if not licence:
            licence = _name(node.get("license") or node.get("acquireLicensePage"))
        if not attribution:
            attribution = _name(node.get("creditText") or node.get("copyrightHolder")
                                or node.get("creator") or node.get("author"))
    return (licence.strip() if licence else None), (attribution.strip() if attribution else None)
