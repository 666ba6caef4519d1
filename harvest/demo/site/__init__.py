"""The bundled demo site: a deterministic, messy classifieds site with photos, served over HTTP on 127.0.0.1.

Crawler tests, benchmarks and `harvest demo` crawl it; `DemoSite.ground_truth()` and
`DemoSite.expected()` say what a correct crawl must find. See `site.py` for the keys.
"""
from __future__ import annotations

from harvest.demo.site.errors import DemoSiteError
from harvest.demo.site.server import RequestLog, RequestRecord, Running, run_forever, serve
from harvest.demo.site.site import DemoSite

__all__ = ["DemoSite", "DemoSiteError", "RequestLog", "RequestRecord", "Running", "run_forever", "serve"]
