"""Checks of the selectors and regexes a source is written in, run when the configuration loads.

A selector is CSS, or XPath with an `xpath:` prefix (as `scrapers.extract.select` reads them).
"""
from __future__ import annotations

import re

from parsel import Selector

_PROBE = Selector(text="<html><body></body></html>")


def check_regex(key: str, pattern: str | None) -> None:
    if pattern is None:
        return
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"`{key}` = {pattern!r} is not a valid regular expression ({exc}); "
                         f"escape special characters such as . ? ( with a backslash") from None


def check_selector(key: str, query: str) -> None:
    if not query.strip():
        raise ValueError(f"`{key}` is empty; expected a CSS selector or `xpath:` followed by an XPath")
    if query.startswith("xpath:"):
        try:
            _PROBE.xpath(query[len("xpath:"):])
        except ValueError as exc:
            raise ValueError(f"`{key}` = {query!r} is not a valid XPath ({exc}); "
                             f"write e.g. \"xpath://div[@class='photo']//img\"") from None
        return
    try:
        _PROBE.css(query)
    except Exception as exc:  # noqa: BLE001 - cssselect raises its own SelectorSyntaxError / ExpressionError
        raise ValueError(f"`{key}` = {query!r} is not a valid CSS selector ({type(exc).__name__}: {exc}); "
                         f"write e.g. \"div.gallery img\", \"a.next::attr(href)\", or use `xpath:`") from None
