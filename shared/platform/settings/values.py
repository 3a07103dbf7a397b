"""Value parsers: each turns one flag's or variable's text into a setting's value, or raises
``ValueError`` whose message completes "bad value 'x': …"; and URLs with passwords masked."""

from __future__ import annotations

import ipaddress
import math
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

#: Deeper than this, parsing and validating a body would approach Python's recursion limit.
MAX_JSON_DEPTH_LIMIT = 256


def mask_url(url: str | None) -> str:
    """``url`` with any password replaced by ``***`` (safe to log)."""
    if not url:
        return str(url)
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def text(value: str) -> str:
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError("must be a positive number")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError("must be a number >= 0")
    return value


def json_depth(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_JSON_DEPTH_LIMIT:
        raise ValueError(f"must be an integer from 1 to {MAX_JSON_DEPTH_LIMIT}")
    return value


def port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be a TCP port (0-65535)")
    return value


def store_url(text: str) -> str:
    if not (text.startswith("sqlite:///") or text.startswith(("mongodb://", "mongodb+srv://"))):
        raise ValueError("must be sqlite:///PATH or mongodb://…")
    path = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else None
    if path is not None and (not path or path.endswith("/") or Path(path).name in (".", "..")):
        raise ValueError("sqlite:///PATH needs a file name, e.g. sqlite:///./conveyor.db")
    return text


def broker_url(text: str) -> str:
    if not text.startswith(("amqp://", "amqps://")):
        raise ValueError("must be amqp://… or amqps://…")
    return text


def http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must be http://… or https://…")
    return text


def log_level(text: str) -> str:
    level = text.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("must be one of debug, info, warning, error")
    return level


def log_format(text: str) -> str:
    value = text.lower()
    if value not in {"text", "json"}:
        raise ValueError("must be text or json")
    return value


def event_loop(text: str) -> str:
    value = text.lower()
    if value not in {"auto", "asyncio", "uvloop"}:
        raise ValueError("must be auto, asyncio or uvloop")
    return value


def csv(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def networks(text: str) -> tuple[str, ...]:
    """Comma-separated IP addresses or CIDRs (checked; kept as text)."""
    items = csv(text)
    for item in items:
        ipaddress.ip_network(item, strict=False)
    return items


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false (1/0, yes/no, on/off)")
