"""``ctx.auth``: OAuth2 client-credentials tokens for a queue's ``client_id``.

The seed's authClientProvider. One :class:`TokenProvider` per process caches a token per
client until shortly before it expires; concurrent callers share one fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp

REFRESH_MARGIN_SECONDS = 30.0


class ClientAuthError(Exception):
    """No token could be obtained: not configured, or the token endpoint refused."""


@dataclass
class _Cached:
    token: str
    expires_at: float


class TokenProvider:
    """Fetches and caches client-credentials tokens from ``token_url``."""

    def __init__(
        self,
        token_url: str | None,
        secret_for: Callable[[str], str | None],
        session: aiohttp.ClientSession,
    ) -> None:
        self._url = token_url
        self._secret_for = secret_for
        self._session = session
        self._cache: dict[str, _Cached] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def token(self, client_id: str) -> str:
        """An access token for ``client_id``. Raises ClientAuthError with the reason."""
        cached = self._cache.get(client_id)
        if cached and cached.expires_at > time.monotonic():
            return cached.token
        async with self._locks.setdefault(client_id, asyncio.Lock()):
            cached = self._cache.get(client_id)
            if cached and cached.expires_at > time.monotonic():
                return cached.token
            fresh = await self._fetch(client_id)
            self._cache[client_id] = fresh
            return fresh.token

    async def _fetch(self, client_id: str) -> _Cached:
        if not self._url:
            raise ClientAuthError("no token endpoint configured (set --token-url)")
        secret = self._secret_for(client_id)
        if secret is None:
            from shared.platform.settings import client_secret_env

            raise ClientAuthError(
                f"no secret for client {client_id!r} (set {client_secret_env(client_id)})"
            )
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        try:
            async with self._session.post(
                self._url, data=form, timeout=aiohttp.ClientTimeout(total=10)
            ) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 200 or not isinstance(body, dict):
                    raise ClientAuthError(f"token endpoint answered {resp.status}")
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ClientAuthError(f"token endpoint failed: {exc}") from None
        token = body.get("access_token")
        if not isinstance(token, str):
            raise ClientAuthError("token endpoint answered without access_token")
        expires_in = float(body.get("expires_in", 300))
        lifetime = max(expires_in - REFRESH_MARGIN_SECONDS, expires_in / 2)
        return _Cached(token, time.monotonic() + lifetime)


class QueueClientAuth:
    """The ``ctx.auth`` of one queue (``conveyor.ClientAuth``): tokens for that queue's
    ``client_id``."""

    def __init__(self, provider: TokenProvider, client_id: str | None) -> None:
        self._provider = provider
        self.client_id = client_id

    async def token(self) -> str:
        """An access token for this queue's client. Raises ClientAuthError."""
        if self.client_id is None:
            raise ClientAuthError("this queue's definition has no client_id")
        return await self._provider.token(self.client_id)
