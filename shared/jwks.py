"""A JWKS key set fetched from an identity provider, cached, refetched on an unknown ``kid``.

Refetches are rate-limited (``min_refresh_seconds``) so a flood of tokens with made-up kids
cannot turn the gateway into a request amplifier against the identity provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import jwt

log = logging.getLogger(__name__)


class JwksError(Exception):
    """The key set could not be fetched or parsed."""


class JwksCache:
    """Keys from ``url`` by ``kid``. Share one per process; safe for concurrent use."""

    def __init__(
        self, url: str, session: aiohttp.ClientSession, *, min_refresh_seconds: float = 10.0
    ) -> None:
        self._url = url
        self._session = session
        self._min_refresh = min_refresh_seconds
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self.fetches = 0

    @property
    def keys(self) -> list[jwt.PyJWK]:
        """The keys currently cached."""
        return list(self._keys.values())

    async def get(self, kid: str | None) -> list[jwt.PyJWK]:
        """Keys matching ``kid`` (all keys when the token names none).

        Fetches the set the first time, and again when ``kid`` is unknown, at most once per
        ``min_refresh_seconds``. Raises JwksError when it cannot be fetched and nothing is
        cached.
        """
        if kid is not None and kid in self._keys:
            return [self._keys[kid]]
        if kid is None and self._keys:
            return self.keys
        await self._refresh()
        if kid is None:
            return self.keys
        return [self._keys[kid]] if kid in self._keys else []

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._min_refresh:
                return
            self._fetched_at = time.monotonic()
            self.fetches += 1
            try:
                timeout = aiohttp.ClientTimeout(total=5)
                async with self._session.get(self._url, timeout=timeout) as resp:
                    resp.raise_for_status()
                    document: Any = await resp.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("JWKS fetch from %s failed: %s", self._url, exc)
                if not self._keys:
                    raise JwksError(f"cannot fetch JWKS: {exc}") from None
                return
            self._keys = _parse(document)


def _parse(document: Any) -> dict[str, jwt.PyJWK]:
    keys: dict[str, jwt.PyJWK] = {}
    raw_keys = document.get("keys", []) if isinstance(document, dict) else []
    for index, raw in enumerate(raw_keys):
        if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(raw)
        except (jwt.PyJWKError, jwt.InvalidKeyError) as exc:
            log.warning("skipping unusable JWKS key %s: %s", raw.get("kid"), exc)
            continue
        keys[str(raw.get("kid", f"#{index}"))] = key
    return keys
