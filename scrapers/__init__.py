"""The Collect stage: harvest's Scrapy project (settings, spiders, pipelines), crawl runs and the scheduler."""
