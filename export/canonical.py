"""Canonical JSON (sorted keys, fixed separators, rounded floats) and hashes over it."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from storage.blobs import hash_file

FLOAT_DIGITS = 6
CHUNK = 1 << 20


def normalize(value: Any) -> Any:
    """Round floats and turn tuples into lists so equal data always serializes the same way."""
    if isinstance(value, float):
        rounded = round(value, FLOAT_DIGITS)
        return int(rounded) if rounded.is_integer() else rounded
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return value


def dumps(value: Any, *, indent: int | None = None, normalized: bool = False) -> str:
    """Deterministic JSON text of `value` (pass normalized=True when its floats are already rounded)."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(value if normalized else normalize(value), sort_keys=True, ensure_ascii=False,
                      separators=separators, indent=indent)


def sha256_json(value: Any) -> str:
    return hashlib.sha256(dumps(value).encode()).hexdigest()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    return hash_file(path)
