"""PolicyPipeline: the robots decision recorded, X-Robots-Tag noai / noimageai honoured when opted in."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from scrapy.exceptions import DropItem, NotConfigured
from scrapy.utils.test import get_crawler

from scrapers.config import SourceConfig
from scrapers.items import PageItem
from scrapers.pipelines import PolicyPipeline


def pipeline(respect_noai: bool, obey: bool = True) -> PolicyPipeline:
    crawler = get_crawler(settings_dict={"ROBOTSTXT_OBEY": obey})
    pipe = PolicyPipeline.from_crawler(crawler)
    pipe.ctx = SimpleNamespace(source=SourceConfig(start_urls=["http://a/"], respect_noai=respect_noai))
    return pipe


def item(*tags: str) -> PageItem:
    return PageItem(url="http://a/1", x_robots=list(tags), image_urls=["http://a/1.jpg"])


def test_noai_drops_the_item_and_noimageai_its_images_when_opted_in():
    pipe = pipeline(respect_noai=True)
    with pytest.raises(DropItem, match="noai"):
        pipe.process_item(item("noindex, noai"))
    kept = pipe.process_item(item("noimageai"))
    assert kept["image_urls"] == [] and kept["robots"] == "allowed"
    stats = pipe.crawler.stats
    assert stats.get_value("harvest/dropped/noai") == 1 and stats.get_value("harvest/dropped/noimageai") == 1


def test_noai_ignored_unless_opted_in_and_robots_decision_recorded():
    pipe = pipeline(respect_noai=False, obey=False)
    kept = pipe.process_item(item("noai"))
    assert kept["image_urls"] == ["http://a/1.jpg"] and kept["robots"] == "not-checked"
    with pytest.raises(DropItem, match="no-url"):
        pipe.process_item(PageItem(title="x"))


def test_switched_off_with_not_configured():
    with pytest.raises(NotConfigured):
        PolicyPipeline.from_crawler(get_crawler(settings_dict={"HARVEST_STORE": False}))
