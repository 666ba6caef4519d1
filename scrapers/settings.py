"""Scrapy settings of the harvest project (`scrapy.cfg` points here).

Polite but fast: robots.txt obeyed, AutoThrottle on for every site with a short start delay and a target
concurrency equal to the per-domain bound, no fixed delay; this machine itself (127.0.0.1, localhost)
is not throttled (scrapers.middlewares), so the demo site and benchmarks run at full speed.
The User-Agent and per-domain concurrency come from `[crawl]`; per-source overrides from
`[sources.NAME].settings`, both applied as spider settings by `scrapers.loader`, as is the body size
limit (`DOWNLOAD_MAXSIZE` = `[crawl].max_bytes`, which Scrapy also applies while decompressing).
Every request passes the URL policy (scrapers.urlpolicy): http(s) only, listed hosts, no private addresses.
"""

BOT_NAME = "harvest"
SPIDER_MODULES = ["scrapers.spiders"]
NEWSPIDER_MODULE = "scrapers.spiders"
SPIDER_LOADER_CLASS = "scrapers.loader.SourceSpiderLoader"
HARVEST_SETTINGS = "harvest.settings.load_settings"  # factory of harvest's Settings(config_path)
HARVEST_STORE = True  # False switches the harvest pipelines and run recording off

USER_AGENT = "harvest/0.1 (+https://github.com/harvest-data/harvest)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 32
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 0.25
AUTOTHROTTLE_MAX_DELAY = 30.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 8.0
HARVEST_THROTTLE_LOOPBACK = False
DOWNLOAD_SLOTS = {host: {"delay": 0.0} for host in ("127.0.0.1", "localhost", "::1")}
# the URL policy first: before the offsite and robots.txt middlewares fetch anything for a request
# then pages refused for their size before are skipped (scrapers.refusals), gzip bombs noticed there
DOWNLOADER_MIDDLEWARES = {
    "scrapers.urlpolicy.UrlPolicyMiddleware": 40,
    "scrapers.refusals.RememberedRefusals": 45,
    "scrapers.middlewares.LoopbackUnthrottled": 50,
    "scrapers.failures.FailureRecorder": 60,  # before RetryMiddleware (550): sees only final failures
    # Scrapy's robots.txt middleware, checking every request that waits for a host's robots.txt (scrapers.robots)
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "scrapers.robots.RobotsTxtMiddleware": 100,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
    "scrapers.refusals.SizedHttpCompression": 590,
}
# only http(s) has a download handler: a request of another scheme that got past the policy still fails
DOWNLOAD_HANDLERS = {"file": None, "ftp": None, "s3": None, "data": None}
HARVEST_URL_POLICY = True
DOWNLOAD_TIMEOUT = 60
RETRY_TIMES = 2
# breadth-first: a page is fetched from its shortest path first, so `max_depth` means "pages within N links"
# (Scrapy's default LIFO order can reach a page by a longer path first, and then its links fall past the
# limit); also what Scrapy advises for broad crawls, as requests do not pile up while a branch is followed down
DEPTH_PRIORITY = 1
SCHEDULER_DISK_QUEUE = "scrapy.squeues.PickleFifoDiskQueue"
SCHEDULER_MEMORY_QUEUE = "scrapy.squeues.FifoMemoryQueue"
MEDIA_ALLOW_REDIRECTS = True
FEED_EXPORT_ENCODING = "utf-8"
LOG_LEVEL = "INFO"

ITEM_PIPELINES = {
    "scrapers.pipelines.PolicyPipeline": 100,
    "scrapers.media.HarvestMediaPipeline": 300,
    "scrapers.pipelines.StorePipeline": 800,
}
EXTENSIONS = {
    "scrapers.extensions.CrawlRunExtension": 500,
    "scrapers.progress.ProgressExtension": 510,
    "scrapers.frontier_scrapy.FrontierExtension": 490,  # only in workers of a shared run (scrapers.frontier)
}
SPIDER_MIDDLEWARES = {"scrapers.frontier_scrapy.FrontierTracker": 10}  # likewise
