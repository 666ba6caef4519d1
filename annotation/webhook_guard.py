"""Checks a webhook request passes before its payload is used: the secret, the size, the JSON shape.

Two ways to prove a request comes from us:

- **static header** (what Label Studio itself can send: its webhooks carry fixed custom headers only):
  `X-Harvest-Secret: <secret>`. A replay of such a request is possible, so `store_event` orders
  revisions by Label Studio's own `updated_at` and a stale payload never becomes the newest revision.
- **signed** (for a relay or proxy in front of the receiver): `X-Harvest-Timestamp: <unix seconds>` and
  `X-Harvest-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. A timestamp more
  than the window away from our clock is refused, and so is a signature already seen in the window.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, AsyncIterator

SECRET_HEADER = "X-Harvest-Secret"
TIMESTAMP_HEADER = "X-Harvest-Timestamp"
SIGNATURE_HEADER = "X-Harvest-Signature"
MAX_DEPTH = 64  # Label Studio payloads nest ~8 deep; deeper is an attack on the parser


class Refused(Exception):
    """The request is refused with `status` and a message saying what was expected."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """The signature header value for `body` sent at `timestamp` (what a relay computes)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


async def read_limited(headers, stream: AsyncIterator[bytes], limit: int) -> bytes:
    """The body, refused with 413 as soon as it (or its declared length) passes `limit` bytes."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"body of {int(declared)} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class Authenticator:
    """Checks either mode; remembers the signatures seen within the window (replays are refused)."""

    def __init__(self, secret: str, window: float, signed_only: bool = False) -> None:
        self.secret = secret
        self.window = window
        self.signed_only = signed_only
        self.seen: dict[str, float] = {}

    def check(self, headers, body: bytes, now: float | None = None) -> str:
        """Return the mode ("signed" or "static") or raise Refused(401)."""
        now = time.time() if now is None else now
        signature = headers.get(SIGNATURE_HEADER)
        if signature is not None:
            return self._signed(headers.get(TIMESTAMP_HEADER, ""), signature, body, now)
        if self.signed_only:
            raise Refused(401, f"this receiver takes signed payloads only: send {TIMESTAMP_HEADER} and "
                               f"{SIGNATURE_HEADER} (sha256=HMAC of timestamp.body)")
        given = headers.get(SECRET_HEADER, "")
        if not given or not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise Refused(401, f"missing or wrong {SECRET_HEADER} header")
        return "static"

    def _signed(self, timestamp: str, signature: str, body: bytes, now: float) -> str:
        try:
            moment = int(timestamp)
        except ValueError:
            raise Refused(401, f"{TIMESTAMP_HEADER} must be unix seconds; found {timestamp[:40]!r}") from None
        if not hmac.compare_digest(signature.encode(), sign(self.secret, timestamp, body).encode()):
            raise Refused(401, f"wrong {SIGNATURE_HEADER}: expected sha256=HMAC-SHA256(secret, timestamp.body)")
        if abs(now - moment) > self.window:
            raise Refused(401, f"signed payload from {moment} is {abs(now - moment):.0f} s away from this "
                               f"server's clock (window {self.window:.0f} s): refused as stale or replayed")
        self.seen = {sig: t for sig, t in self.seen.items() if now - t <= self.window}
        if signature in self.seen:
            raise Refused(401, "this signed payload was already received: refused as a replay")
        self.seen[signature] = now
        return "signed"


def parse_payload(body: bytes) -> dict[str, Any]:
    """A JSON object of bounded depth, or Refused(400) saying what is wrong."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise Refused(400, f"body nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # also bad UTF-8
        raise Refused(400, f"body is not JSON: {str(exc)[:200]}") from None
    if not isinstance(payload, dict):
        raise Refused(400, f"body must be a JSON object; found {type(payload).__name__}")
    stack = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(400, f"body nests deeper than {MAX_DEPTH} levels")
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return payload
