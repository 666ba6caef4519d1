"""A threaded HTTP server for a `DemoSite`, with a request log, conditional GETs, a slow and a flaky page."""
from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from harvest.demo.site.errors import DemoSiteError
from harvest.demo.site.model import SLOW_SECONDS, Resource
from harvest.demo.site.pages import not_found_page
from harvest.demo.site.site import DemoSite


@dataclass(frozen=True)
class RequestRecord:
    """One answered request: method, path (no query), status, body bytes sent, and request headers of note."""

    method: str
    path: str
    status: int
    size: int
    user_agent: str
    conditional: bool


class RequestLog:
    """Thread-safe record of every request the server answered, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[RequestRecord] = []

    def add(self, request: RequestRecord) -> None:
        with self._lock:
            self._items.append(request)

    def all(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def mark(self) -> int:
        """A position to pass to `since` later (e.g. before a second crawl)."""
        return len(self)

    def since(self, mark: int) -> list[RequestRecord]:
        with self._lock:
            return self._items[mark:]

    def fetched(self, since: int = 0, prefix: str = "") -> list[str]:
        """Paths answered 200 with a body since mark `since`, e.g. "did the re-crawl download any image?"."""
        return [r.path for r in self.since(since) if r.status == 200 and r.size > 0 and r.path.startswith(prefix)]

    def paths(self, status: int | None = None) -> list[str]:
        """Requested paths in order (with repeats), optionally only those answered with `status`."""
        return [r.path for r in self.all() if status is None or r.status == status]

    def count(self, path: str | None = None, status: int | None = None) -> int:
        return sum(1 for r in self.all() if (path is None or r.path == path) and (status is None or r.status == status))

    def statuses(self, path: str) -> list[int]:
        return [r.status for r in self.all() if r.path == path]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], site: DemoSite) -> None:
        super().__init__(address, _Handler)
        self.site = site
        self.log = RequestLog()
        self.stopping = threading.Event()
        self._failed: set[str] = set()
        self._failed_lock = threading.Lock()

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001 - socketserver API
        """A client that hangs up mid-answer (e.g. a crawler's timeout on the slow page) is not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def fail_now(self, path: str) -> bool:
        """True exactly once per path and server: the flaky page's one 500."""
        with self._failed_lock:
            if path in self._failed:
                return False
            self._failed.add(path)
            return True


def _not_modified(headers, res: Resource) -> bool:
    inm = headers.get("If-None-Match")
    if inm is not None:
        return any(tag.strip().removeprefix("W/") in (res.etag, "*") for tag in inm.split(","))
    ims = headers.get("If-Modified-Since")
    if ims:
        try:
            return res.mtime <= parsedate_to_datetime(ims).timestamp()
        except (TypeError, ValueError):
            return False
    return False


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls
    server_version = "HarvestDemo/1.0"
    sys_version = ""
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep tests quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self._answer(with_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(with_body=False)

    def _answer(self, with_body: bool) -> None:
        path = urlsplit(self.path).path or "/"
        res = self.server.site.resource(path)
        conditional = bool(self.headers.get("If-None-Match") or self.headers.get("If-Modified-Since"))
        if res is None:
            status, body, headers = 404, not_found_page(path), {"Content-Type": "text/html; charset=utf-8"}
        elif res.behaviour == "fail_once" and with_body and self.server.fail_now(path):
            status, body, headers = 500, b"Internal Server Error (try again)\n", {"Content-Type": "text/plain"}
        else:
            if res.behaviour == "slow":
                self.server.stopping.wait(SLOW_SECONDS)
            headers = {"ETag": res.etag, "Last-Modified": res.last_modified, "Cache-Control": "max-age=0"}
            if _not_modified(self.headers, res):
                status, body = 304, b""
            else:
                status, body = 200, res.body
                headers["Content-Type"] = res.content_type
        sent = len(body) if with_body and status != 304 else 0
        # logged before answering, so a client holding the response always finds it in the log
        self.server.log.add(RequestRecord(self.command, path, status, sent, self.headers.get("User-Agent", ""), conditional))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if sent:
            self.wfile.write(body)


@dataclass
class Running:
    """What `serve` yields: the server's `base_url` and its `requests` log."""

    base_url: str
    requests: RequestLog
    site: DemoSite

    def url(self, path: str) -> str:
        return self.base_url + path


def _start(site: DemoSite | None, host: str, port: int) -> _Server:
    try:
        return _Server((host, port), site or DemoSite(0))
    except OSError as exc:
        raise DemoSiteError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); expected a free port — "
            "pick another with --port, or port 0 for any free one"
        ) from exc


@contextmanager
def serve(site: DemoSite | None = None, host: str = "127.0.0.1", port: int = 0) -> Iterator[Running]:
    """Serve `site` (default `DemoSite(0)`) in a background thread; port 0 picks a free port."""
    server = _start(site, host, port)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True,
                              name="demo-site")
    thread.start()
    bound_host, bound_port = server.server_address[:2]
    try:
        yield Running(f"http://{bound_host}:{bound_port}", server.log, server.site)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def run_forever(host: str = "127.0.0.1", port: int = 8765, site: DemoSite | None = None,
                ready: Callable[[str], None] | None = None) -> None:
    """Serve in the foreground until interrupted (Ctrl-C); `ready(base_url)` is called once listening."""
    server = _start(site, host, port)
    bound_host, bound_port = server.server_address[:2]
    if ready is not None:
        ready(f"http://{bound_host}:{bound_port}")
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.stopping.set()
        server.server_close()
