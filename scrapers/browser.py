"""Pages rendered by a real browser (`render = "browser"`, or only the pages matching `render_urls`):
scrapy-playwright driving Debian's chromium.

Only the spider's page requests are rendered (marked with Request.meta["playwright"]); images, sitemaps and
robots.txt are still fetched by Scrapy's HTTP handler. The browser is the system one (`/usr/bin/chromium`,
or `[crawl].chromium`), never a downloaded build, headless, with the flags that keep it off the network
except for the page. Every request the page makes (scripts, styles, images, XHR) passes the source's URL
policy first: a request the policy refuses is aborted in the browser and counted
`urlpolicy/refused/<reason>` and `harvest/browser_aborted`. Images, media and fonts are not loaded by the
browser at all: the image pipeline fetches each image URL of the rendered page once, with its checks.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler
from scrapy_playwright.page import PageMethod

from scrapers.urlpolicy import Policy, UrlRefused, resolve

logger = logging.getLogger(__name__)
CHROMIUM = "/usr/bin/chromium"
# without the background-networking flags chromium calls home (updates, sync, field trials)
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-first-run",
        "--disable-extensions", "--disable-quic", "--metrics-recording-only", "--mute-audio"]
HANDLER = "scrapers.browser.PolicyBrowserHandler"
SKIPPED = frozenset({"image", "media", "font"})  # resource types the browser need not load
# scroll to the bottom, then wait (at most 10 s) until no request has started or ended for 500 ms
# (Playwright's own "network idle" rule; its wait_for_load_state returns at once once a page was idle)
SCROLL = """async () => {
  window.scrollTo(0, document.documentElement.scrollHeight);
  const count = () => performance.getEntriesByType("resource").length;
  let last = count(), quietSince = Date.now();
  const start = Date.now();
  while (Date.now() - start < 10000) {
    await new Promise((done) => setTimeout(done, 100));
    const now = count();
    if (now !== last) { last = now; quietSince = Date.now(); }
    else if (Date.now() - quietSince >= 500) break;
  }
}"""


def browser_settings(chromium: str = CHROMIUM, timeout_s: float = 30.0) -> dict[str, Any]:
    """Scrapy settings of a source with `render = "browser"`."""
    return {
        # the project's handlers (file/ftp/s3/data off), with http(s) through the browser-capable handler
        "DOWNLOAD_HANDLERS": {"file": None, "ftp": None, "s3": None, "data": None, "http": HANDLER, "https": HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": chromium, "headless": True, "args": ARGS,
                                      "timeout": timeout_s * 1000},
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": timeout_s * 1000,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 4,
    }


def page_meta(scrolls: int) -> dict[str, Any]:
    """Request.meta of a rendered page: load, then `scrolls` times scroll to the bottom and wait for the
    network to go quiet (what an infinite-scroll page loads more on), a bounded number of times."""
    methods = [PageMethod("wait_for_load_state", "networkidle")]
    for _ in range(scrolls):
        methods.append(PageMethod("evaluate", SCROLL))
    return {"playwright": True, "playwright_page_methods": methods}


class PolicyBrowserHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's handler with the URL policy (scrapers.urlpolicy) on every browser request."""

    def __init__(self, crawler: Crawler) -> None:
        executable = crawler.settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS").get("executable_path") or CHROMIUM
        if not Path(executable).is_file():
            from scrapers.errors import BadSource

            raise BadSource(f"render = \"browser\" needs chromium at {executable}, and it is not there; install "
                            f"Debian's chromium (apt-get install chromium) or set [crawl].chromium to its path")
        super().__init__(crawler)
        self.crawler = crawler
        self.policy: Policy | None = None
        self.addresses: dict[tuple[str, int], list] = {}
        self.abort_request = self._refused

    def _policy(self) -> Policy:
        if self.policy is None:
            self.policy = Policy.for_spider(self.crawler.spider)
        return self.policy

    async def _refused(self, request) -> bool:
        """Whether to abort one request of the page (True: the policy refuses it)."""
        if request.resource_type in SKIPPED:  # fetched once, by the image pipeline, from the rendered page
            self.stats.inc_value("harvest/browser_skipped_media")
            return True
        if not self.crawler.settings.getbool("HARVEST_URL_POLICY", True):
            return False
        policy = self._policy()
        try:
            host, port = policy.check_url(request.url, image=True)
            if (host, port) not in self.addresses:
                try:
                    self.addresses[(host, port)] = await asyncio.to_thread(resolve, host, port)
                except (OSError, UnicodeError):
                    self.addresses[(host, port)] = []
            for address in self.addresses[(host, port)]:
                policy.check_address(host, port, address)
        except UrlRefused as exc:
            self.stats.inc_value(f"urlpolicy/refused/{exc.reason}")
            self.stats.inc_value("harvest/browser_aborted")
            logger.info("browser request aborted by the URL policy: %s (%s)", request.url[:300], exc.detail)
            return True
        return False


def render_page(url: str, scrolls: int, policy: Policy, chromium: str = CHROMIUM,
                timeout_s: float = 30.0) -> tuple[str, int, dict[str, str], bytes]:
    """(final URL, status, headers, rendered HTML) of one page, as a crawl with `render = "browser"` sees it
    (for `harvest source check`): the same chromium, flags, policy on every request and bounded scrolls."""
    from playwright.sync_api import sync_playwright

    if not Path(chromium).is_file():
        from scrapers.errors import CheckFailed

        raise CheckFailed(f"render = \"browser\" needs chromium at {chromium}, and it is not there; install "
                          f"Debian's chromium (apt-get install chromium) or set [crawl].chromium to its path")

    def route(r) -> None:
        request = r.request
        try:
            if request.resource_type in SKIPPED:
                raise UrlRefused("media", "images are fetched by the image pipeline")
            host, port = policy.check_url(request.url, image=True)
            for address in resolve(host, port):
                policy.check_address(host, port, address)
        except (UrlRefused, OSError, UnicodeError):
            r.abort()
            return
        r.continue_()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=ARGS, timeout=timeout_s * 1000)
        try:
            page = browser.new_page()
            page.route("**/*", route)
            response = page.goto(url, wait_until="load", timeout=timeout_s * 1000)
            page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
            for _ in range(scrolls):
                page.evaluate(SCROLL)
            status = response.status if response is not None else 200
            headers = response.all_headers() if response is not None else {}
            return page.url, status, headers, page.content().encode()
        finally:
            browser.close()
