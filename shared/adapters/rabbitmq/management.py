"""How many consumers each RabbitMQ queue has, from the RabbitMQ management HTTP API.

Only used when ``--rabbitmq-management-url`` is set (``http://user:pass@host:15672``); the
dashboard shows "unknown" otherwise. One ``GET /api/queues/{vhost}?columns=name,consumers``
answers for every queue; the answer is kept for :data:`TTL_SECONDS` so a dashboard polling
every few seconds costs the broker one request per interval, not one per viewer.
"""

from __future__ import annotations

import base64
import logging
import time
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import aiohttp

log = logging.getLogger(__name__)

TTL_SECONDS = 5.0
TIMEOUT_SECONDS = 3.0


def vhost_of(broker: str | None) -> str:
    """The virtual host of an ``amqp://`` URL (``/`` when the URL names none)."""
    if not broker:
        return "/"
    path = urlsplit(broker).path
    return unquote(path[1:]) if len(path) > 1 else "/"


class ConsumerCounts:
    """Consumers per Conveyor queue (by definition name), read from the management API."""

    def __init__(self, url: str, http: aiohttp.ClientSession, *, vhost: str, prefix: str) -> None:
        parts = urlsplit(url)
        self._headers = {}
        if parts.username:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self._headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        netloc = parts.hostname or ""
        if parts.port:
            netloc += f":{parts.port}"
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
        self._url = f"{base}/api/queues/{quote(vhost, safe='')}"
        self._http = http
        self._prefix = prefix
        self._cached: tuple[float, dict[str, int] | None] | None = None

    async def get(self) -> dict[str, int] | None:
        """Consumers per queue name; None when the management API does not answer (logged,
        never raised: the dashboard then says "unknown")."""
        now = time.monotonic()
        if self._cached is not None and now - self._cached[0] < TTL_SECONDS:
            return self._cached[1]
        found = await self._fetch()
        self._cached = (now, found)
        return found

    async def _fetch(self) -> dict[str, int] | None:
        try:
            async with self._http.get(
                self._url,
                params={"columns": "name,consumers"},
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS),
            ) as resp:
                resp.raise_for_status()
                body = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("RabbitMQ management API unavailable: %s", type(exc).__name__)
            return None
        counts: dict[str, int] = {}
        for item in body if isinstance(body, list) else []:
            name, consumers = item.get("name"), item.get("consumers")
            if (
                isinstance(name, str)
                and name.startswith(self._prefix)
                and isinstance(consumers, int)
            ):
                counts[name.removeprefix(self._prefix)] = consumers
        return counts
