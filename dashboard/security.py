"""Access control: read-only methods, an optional token (constant-time compare) by header, ?token= or cookie,
and headers that keep pages from loading anything from elsewhere."""
from __future__ import annotations

import hmac
import ipaddress
from urllib.parse import urlencode

from starlette.datastructures import URL
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

COOKIE = "harvest_dashboard"
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def token_matches(given: str | None, token: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class Guard(BaseHTTPMiddleware):
    """Refuses every method but GET/HEAD; with a token, refuses requests that do not carry it."""

    def __init__(self, app, token: str | None) -> None:
        super().__init__(app)
        self.token = token or None

    async def dispatch(self, request: Request, call_next) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("the dashboard is read-only", status_code=405, headers={"Allow": "GET, HEAD"})
        if self.token is not None:
            auth = request.headers.get("authorization", "")
            header = auth[7:] if auth.lower().startswith("bearer ") else request.headers.get("x-harvest-token")
            query = request.query_params.get("token")
            if token_matches(query, self.token):  # keep it in a cookie and drop it from the address bar
                rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = URL(path=request.url.path, query=urlencode(rest))
                response = RedirectResponse(str(target), status_code=303)
                response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict",
                                    secure=request.url.scheme == "https")
                return _secure(response)
            if not (token_matches(header, self.token) or token_matches(request.cookies.get(COOKIE), self.token)):
                return _secure(PlainTextResponse(
                    "a token is required: open the URL printed by `harvest dashboard` (…?token=…) or send "
                    "'Authorization: Bearer <token>'", status_code=401))
        return _secure(await call_next(request))


def _secure(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Frame-Options"] = "DENY"
    return response
