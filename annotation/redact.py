"""Keep secrets out of logs: a logging filter that masks registered secrets and auth headers."""
from __future__ import annotations

import logging
import re

_SECRETS: set[str] = set()
_AUTH = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:token|bearer)\s+)([^\s'\",]+)")
# login sessions and CSRF tokens in Set-Cookie / Cookie headers (httpcore logs headers at DEBUG)
_COOKIE = re.compile(r"(?i)\b((?:sessionid|csrftoken|csrfmiddlewaretoken)=)([^;\s'\",]+)")
MASK = "***"


def register_secret(value: str | None) -> None:
    """Remember `value` so that every record through RedactingFilter shows it masked."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """`text` with registered secrets, `Authorization: Token …` values and session cookies masked."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _AUTH.sub(lambda m: m.group(1) + MASK, text)
    return _COOKIE.sub(lambda m: m.group(1) + MASK, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets masked (attach to handlers or loggers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def install(logger_names: tuple[str, ...] = ("", "httpx", "httpcore", "annotation", "uvicorn")) -> None:
    """Attach one RedactingFilter to the named loggers and to the root handlers (idempotent)."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
        for handler in logger.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
