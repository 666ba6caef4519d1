"""A Python spider source that stops its crawl with CloseSpider: the run ends `failed`."""
from __future__ import annotations

import scrapy
from scrapy.exceptions import CloseSpider


class ClosingSpider(scrapy.Spider):
    name = "closing"

    def parse(self, response):
        raise CloseSpider("the test closed it")
