"""Small HTTP servers on loopback addresses, each on a free port, serving fixed routes and logging every
request path; hostile pages for the crawl's URL policy, size limits and image checks are built on them."""
from __future__ import annotations

import gzip
import io
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import numpy as np
from PIL import Image


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "text/html"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Site:
    """Routes by path; `requests` counts every path asked for (with its query string)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.routes: dict[str, Route] = {}
        self.requests: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.server_address[1]

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add(self, path: str, body: bytes = b"", content_type: str = "text/html", status: int = 200,
            **headers: str) -> None:
        self.routes[path] = Route(body, content_type, status, {k.replace("_", "-"): v for k, v in headers.items()})

    def page(self, path: str, html: str) -> None:
        self.add(path, f"<!DOCTYPE html><html><body>{html}</body></html>".encode())

    def redirect(self, path: str, target: str) -> None:
        self.add(path, b"", "text/plain", 302, Location=target)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                with site.lock:
                    site.requests[self.path] += 1
                route = site.routes.get(self.path) or Route(b"not found", "text/plain", 404)
                self.send_response(route.status)
                self.send_header("Content-Type", route.content_type)
                self.send_header("Content-Length", str(len(route.body)))
                for name, value in route.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(route.body)

        return Handler

    def fetched(self, path: str) -> int:
        with self.lock:
            return self.requests[path]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address) -> None:
        """A client hanging up mid-answer (the crawler aborting an oversized body) is expected here."""


@contextmanager
def serving(*sites: Site) -> Iterator[None]:
    threads = []
    for site in sites:
        server = _Server((site.host, 0), site.handler())
        site.server = server
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        threads.append(thread)
    try:
        yield
    finally:
        for site in sites:
            assert site.server is not None
            site.server.shutdown()
            site.server.server_close()


def png(seed: int, size: tuple[int, int] = (80, 60)) -> bytes:
    """A distinct, valid RGB PNG per seed."""
    rng = np.random.default_rng(seed)
    out = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), np.uint8)).save(out, "PNG")
    return out.getvalue()


def gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzip-compressed (about a thousandth of that on the wire)."""
    return gzip.compress(b"\0" * size, compresslevel=9)
