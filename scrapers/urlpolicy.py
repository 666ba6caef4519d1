"""The crawl's URL policy: one downloader middleware that every request passes, pages and images alike.

Checked for every request, and again for every redirect hop (Scrapy sends the redirected request through
the downloader middlewares once more, for the spider's requests and the media pipeline's alike):

- the scheme: only `http` and `https` (file:, ftp:, data:, s3:, ... are refused, never downloaded);
- the host: pages must be on the source's `allowed_domains` (when it has any, as Scrapy's offsite rule),
  images (and the robots.txt of their hosts) on `allowed_domains` or `image_domains`. An image host's
  robots.txt request is marked `allow_offsite` here: Scrapy's OffsiteMiddleware would otherwise drop it,
  and RobotsTxtMiddleware treats a robots.txt it could not download as "allow everything";
- the address, after DNS resolution: private, loopback, link-local, multicast, reserved, unspecified and
  IPv4-mapped/compat forms of those are refused, unless the source's user wrote that very host or address
  in `allowed_domains`, `image_domains` or `start_urls`. Such a listed private host is allowed only on the
  ports the user wrote for it (in `start_urls`, `sitemap_urls` or a `host:port` entry of `image_domains`); a page host
  written without ports (a second name of the site) takes the ports of the start URLs; else 80/443:
  127.0.0.1:8765 listed does not open 127.0.0.1:6379. Public hosts are port-agnostic, like Scrapy.
- DNS rebinding: the address a response actually came from (`Response.ip_address`) is checked again, so
  an answer from a private address that the check's own resolution did not return is discarded
  (the request has been sent by then; its answer never reaches the pipelines or the store).

Refusals raise `UrlRefused` (an IgnoreRequest) with a stable `reason` and count `urlpolicy/refused/<reason>`;
each allowed image request to a host outside `allowed_domains` counts `urlpolicy/offsite_image_host/<host>`.
`HARVEST_URL_POLICY = False` switches the middleware off (for benchmarks only).
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.threads import deferToThread

logger = logging.getLogger(__name__)
SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
IMAGE_META = "harvest_image"  # set on the media pipeline's requests (kept by redirects)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UrlRefused(IgnoreRequest):
    """A request the URL policy refuses; `reason` is the stats key, `detail` says why and what to change."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"refused by the URL policy ({reason}): {detail}")
        self.reason = reason
        self.detail = detail


def split_entry(entry: str) -> tuple[str, int | None]:
    """`host`, `host:port`, `[v6]:port` or a bare IPv6 address -> (lower-case host, port or None)."""
    entry = entry.strip().lower().rstrip(".")
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def host_matches(host: str, domains: Iterable[str]) -> bool:
    """Scrapy's offsite rule: the domain itself or any subdomain of it."""
    return any(host == d or host.endswith("." + d) for d in domains)


def unsafe(address: Address) -> str | None:
    """Why an address is not a public unicast one (None when it is)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None:
            why = unsafe(embedded)
            return f"maps to {embedded}, {why}" if why else None
    for flag in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{flag}"):
            return flag.replace("_", "-")
    if not address.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class Policy:
    """What one source allows; built from what its user wrote."""

    page_domains: frozenset[str]
    image_domains: frozenset[str]
    listed: dict[str, frozenset[int]]  # host/address written by the user -> ports written for it

    @classmethod
    def build(cls, allowed_domains: Iterable[str], image_domains: Iterable[str], start_urls: Iterable[str]) -> Policy:
        pages = {split_entry(d)[0] for d in allowed_domains if d}
        images = {split_entry(d)[0] for d in image_domains if d}
        ports: dict[str, set[int]] = {h: set() for h in pages | images}
        for entry in image_domains:
            host, port = split_entry(entry)
            if port is not None:
                ports[host].add(port)
        started: set[int] = set()
        for url in start_urls:
            try:
                parts = urlsplit(url)
                if parts.hostname and parts.scheme in DEFAULT_PORTS:
                    ports.setdefault(parts.hostname, set()).add(parts.port or DEFAULT_PORTS[parts.scheme])
                    started.add(parts.port or DEFAULT_PORTS[parts.scheme])
            except ValueError:  # a malformed start URL: its request is refused by check_url
                continue
        # a page host written without ports of its own (a second name of the site: 127.0.0.1 beside localhost,
        # www.example.test beside example.test) is reached on the ports of the start URLs
        listed = {h: frozenset(p or (started if h in pages else ()) or DEFAULT_PORTS.values())
                  for h, p in ports.items()}
        return cls(frozenset(pages), frozenset(images), listed)

    @classmethod
    def for_spider(cls, spider: Any) -> Policy:
        """The policy of a spider: its allowed_domains, its source's image_domains, start and sitemap URLs."""
        source = getattr(spider, "source", None)
        return cls.build(
            getattr(spider, "allowed_domains", None) or [],
            getattr(source, "image_domains", None) or [],
            [*(getattr(spider, "start_urls", None) or []), *(getattr(source, "start_urls", None) or []),
             *(getattr(spider, "sitemap_urls", None) or []), *(getattr(source, "sitemap_urls", None) or [])],
        )

    def check_url(self, url: str, *, image: bool) -> tuple[str, int]:
        """(host, port) of an acceptable URL, before DNS; raise UrlRefused otherwise."""
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            raise UrlRefused("bad_url", f"{url[:200]!r} is not a valid URL ({exc})") from None
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise UrlRefused("scheme", f"{url[:200]!r}: only http and https URLs are fetched, not {scheme or 'no'}:")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise UrlRefused("no_host", f"{url[:200]!r} has no host")
        try:
            port = parts.port or DEFAULT_PORTS[scheme]
        except ValueError:
            raise UrlRefused("bad_port", f"{url[:200]!r} has an invalid port") from None
        if self.page_domains:
            domains = self.page_domains | self.image_domains if image else self.page_domains
            if not host_matches(host, domains):
                what = "allowed_domains or image_domains" if image else "allowed_domains"
                raise UrlRefused("offsite_host", f"{host} is not in the source's {what} ({', '.join(sorted(domains))}); "
                                 f"add it to image_domains to fetch images from it")
        return host, port

    def check_address(self, host: str, port: int, address: Address) -> None:
        """Raise UrlRefused if `address` (that `host` resolved to) is private and the user did not list it."""
        why = unsafe(address)
        if why is None:
            return
        ports = self.listed.get(host)
        if ports is None:
            raise UrlRefused("private_address", f"{host} resolves to {address} ({why}); a source reaches such an "
                             f"address only if its allowed_domains or image_domains name that host or address")
        if port not in ports:
            raise UrlRefused("private_port", f"{host}:{port} ({why}) is listed for port(s) "
                             f"{', '.join(map(str, sorted(ports)))} only; add '{host}:{port}' to image_domains to allow it")


def _is_robots(request: Request) -> bool:
    """RobotsTxtMiddleware's own request for a host's robots.txt."""
    return bool(request.meta.get("dont_obey_robotstxt")) and urlparse_cached(request).path == "/robots.txt"


def resolve(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


class UrlPolicyMiddleware:
    """Downloader middleware enforcing `Policy` on every request and every response's peer address."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.policy = Policy.build([], [], [])
        self.addresses: dict[tuple[str, int], list[Address]] = {}
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> UrlPolicyMiddleware:
        if not crawler.settings.getbool("HARVEST_URL_POLICY", True):
            raise NotConfigured("HARVEST_URL_POLICY is off")
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        self.policy = Policy.for_spider(spider)

    def _refuse(self, request: Request, exc: UrlRefused) -> UrlRefused:
        self.stats.inc_value(f"urlpolicy/refused/{exc.reason}")
        logger.info("URL policy refused %s: %s", request.url[:300], exc.detail)
        return exc

    async def process_request(self, request: Request) -> None:
        robots = _is_robots(request)
        image = bool(request.meta.get(IMAGE_META)) or robots
        try:
            host, port = self.policy.check_url(request.url, image=image)
            key = (host, port)
            if key not in self.addresses:
                try:
                    self.addresses[key] = await maybe_deferred_to_future(deferToThread(resolve, host, port))
                except (OSError, UnicodeError):
                    # not refused: Scrapy's own lookup fails too (a download error, retried and reported,
                    # never a silently missed page), and should it succeed the peer address is checked
                    self.stats.inc_value("urlpolicy/unresolved")
            for address in self.addresses.get(key, []):
                self.policy.check_address(host, port, address)
        except UrlRefused as exc:
            raise self._refuse(request, exc) from None
        if image and self.policy.page_domains and not host_matches(host, self.policy.page_domains):
            if robots:  # an image host passed above: Scrapy's offsite filter would refuse its robots.txt,
                request.meta["allow_offsite"] = True  # and a robots.txt that fails to download allows all
            else:
                self.stats.inc_value(f"urlpolicy/offsite_image_host/{host}")
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        address = getattr(response, "ip_address", None)
        if address is None:
            return response
        parts = urlparse_cached(request)
        host, port = parts.hostname or "", parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
        try:
            if address not in self.addresses.get((host, port), [address]):
                self.stats.inc_value("urlpolicy/rebound")
            self.policy.check_address(host, port, address)
        except UrlRefused as exc:
            raise self._refuse(request, UrlRefused("rebinding" if exc.reason == "private_address" else exc.reason,
                                                   f"the answer came from {address}: {exc.detail}")) from None
        return response
