"""Scrapy's RobotsTxtMiddleware, with every request that waits for a host's robots.txt checked against it.

Scrapy 2.19's middleware keeps one Deferred per host while that host's robots.txt downloads, and each
request that arrives meanwhile awaits it through `maybe_deferred_to_future`, which (on the asyncio
reactor, Scrapy's default) turns the Deferred into a Future with Twisted's `asFuture`. `asFuture`
consumes the Deferred's result: the first waiter gets the parser, every later one gets None, which the
middleware reads as "no robots.txt: allow everything". So of a burst of requests to a new host (the
requests a worker of a shared run takes over from a dead one, a page's images on a CDN, many start
URLs), all but one were fetched without the robots.txt check. Here each waiter gets a Deferred of its
own, chained on the host's so that the parser passes on to the next.
"""
from __future__ import annotations

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware as ScrapyRobotsTxtMiddleware
from scrapy.http import Request
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class RobotsTxtMiddleware(ScrapyRobotsTxtMiddleware):
    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):  # the first request of the host, or the parser is known
            return await super().robot_parser(request)
        mine: Deferred[RobotParser | None] = Deferred()

        def pass_on(parser: RobotParser | None) -> RobotParser | None:
            mine.callback(parser)
            return parser  # for the next request waiting on this host

        pending.addCallback(pass_on)
        return await maybe_deferred_to_future(mine)
