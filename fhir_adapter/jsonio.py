"""Compact JSON encoding and decoding of request and response bodies (orjson)."""

from __future__ import annotations

from typing import Any

import orjson


def dumps(obj: Any) -> bytes:
    """``obj`` as compact UTF-8 JSON bytes."""
    return orjson.dumps(obj)


def loads(data: bytes | str) -> Any:
    """Parse UTF-8 JSON; raises ``orjson.JSONDecodeError`` (a ``ValueError``) on malformed input."""
    return orjson.loads(data)
