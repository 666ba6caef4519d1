"""A Python spider used as a source (`spider = "tests.scrapers.example_spider:ExampleSpider"`)."""
from __future__ import annotations

import scrapy

from scrapers.items import page_item


class ExampleSpider(scrapy.Spider):
    name = "example"

    def parse(self, response):
        for href in response.css("li.listing a.listing-link::attr(href)").getall():
            yield response.follow(href, callback=self.parse_listing)

    def parse_listing(self, response):
        yield page_item(
            response,
            title=response.css("h1.title::text").get(),
            image_urls=[response.urljoin(u) for u in response.css("div.gallery a.full::attr(href)").getall()],
            licence="site-default",
        )
