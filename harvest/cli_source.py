"""`harvest source check NAME [URL]`: a dry run of a source's configuration on one page."""
from __future__ import annotations

from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add the `source` command group to the main app."""
    from harvest.context import console, settings

    group = typer.Typer(help="Write and check a source's configuration.", no_args_is_help=True)
    app.add_typer(group, name="source")

    @group.command("check")
    def check_cmd(
        name: str = typer.Argument(..., help="Source name (a sources.NAME table in harvest.toml)."),
        url: Optional[str] = typer.Argument(None, help="Page to try; default the first start (or sitemap) URL."),
    ) -> None:
        """Fetch one page and print what the configuration extracts and follows; nothing is stored."""
        import httpx

        from scrapers.check import check_page, response_of
        from scrapers.errors import CheckFailed
        from scrapers.loader import user_agent
        from scrapers.runs import resolve_source

        s = settings()
        source = resolve_source(s, name)
        if source.spider:
            raise CheckFailed(f"source '{name}' is a Python spider ({source.spider}); use `scrapy parse --spider "
                              f"{name} URL` for it. `harvest source check` reads config-driven sources.")
        target = url or (source.start_urls or source.sitemap_urls)[0]
        if source.renders(target):  # as the crawl sees it: rendered by chromium, bounded scrolls
            from scrapers.browser import render_page
            from scrapers.urlpolicy import Policy

            policy = Policy.build(source.allowed_domains, source.image_domains,
                                  [*source.start_urls, *source.sitemap_urls])
            final, status, headers, body = render_page(target, source.scrolls, policy, s.crawl.chromium)
            console.print(f"rendered by {s.crawl.chromium} ({source.scrolls} scroll(s))", soft_wrap=True)
            response = response_of(final, status, {"content-type": "text/html", **headers}, body)
            _print(console, check_page(source, response, listed=url is None and not source.start_urls))
            return
        try:
            answer = httpx.get(target, headers={"User-Agent": user_agent(s.crawl)}, follow_redirects=True,
                               timeout=30)
        except httpx.HTTPError as exc:
            raise CheckFailed(f"cannot fetch {target}: {type(exc).__name__}: {exc}. "
                              f"Is the site up and the URL right?") from None
        response = response_of(str(answer.url), answer.status_code, dict(answer.headers), answer.content)
        if response is None:
            raise CheckFailed(f"{answer.url} answered {answer.headers.get('content-type')!r}, not a page; "
                              f"harvest parses HTML pages (images are fetched from the pages that show them)")
        _print(console, check_page(source, response, listed=url is None and not source.start_urls))


def _print(console, report) -> None:
    console.print(f"[bold]{report.url}[/]  HTTP {report.status}  {report.content_type}", soft_wrap=True)
    console.print(f"item page: {'yes' if report.is_item else 'no'} ({report.why_item})", soft_wrap=True)
    console.print("selector matches: " + ", ".join(f"{k} {n}" for k, n in report.matches.items()), soft_wrap=True)
    found = any(item["images"] or any(v is not None for v in item["fields"].values()) for item in report.items)
    if not report.is_item and found and "reached through item_links" in report.why_item:
        console.print("what it extracts as an item (when reached through item_links):", soft_wrap=True)
    if report.is_item or (found and "reached through item_links" in report.why_item):
        for n, item in enumerate(report.items, 1):
            head = f"item {n}" + (f" (record {item['key']})" if item["key"] else "")
            console.print(f"[bold]{head}[/]", soft_wrap=True)
            for field, value in item["fields"].items():
                console.print(f"  field {field}: {value!r}", soft_wrap=True, markup=False)
            for image in item["images"]:
                words = ", ".join(f"{k}={image[k]!r}" for k in ("alt", "title", "caption") if image.get(k))
                console.print(f"  image {image['url']}  [{image['rule']}]" + (f"  {words}" if words else ""),
                              soft_wrap=True, markup=False)
            if not item["images"]:
                console.print("  no image: check `images`", soft_wrap=True, markup=False)
    for url, key, fate in report.links:
        console.print(f"link {url}  ({key}) {fate}", soft_wrap=True, markup=False)
    if not report.links:
        console.print("no links followed from this page", soft_wrap=True)
    console.print("nothing was stored.", soft_wrap=True)
