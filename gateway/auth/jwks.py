"""A JWKS key set fetched from an identity provider, cached, refetched on an unknown ``kid``.

Refetches are rate-limited (``min_refresh_seconds``) so a flood of tokens with made-up kids
cannot turn the gateway into a request amplifier against the identity provider.

While the last fetch failed (unreachable, an error status, a timeout after
:data:`FETCH_TIMEOUT_SECONDS`, a document that is not a key set, or one over
:data:`MAX_DOCUMENT_BYTES` or :data:`MAX_KEYS`), a key that is not cached raises
:class:`JwksUnavailable`: the token cannot be checked, which is not the same as invalid; the
keys cached before keep working. Each failed fetch is logged with the URL; the exception
carries no URL, since its message may reach clients. The body is read at most
:data:`MAX_DOCUMENT_BYTES` (decoded) before the fetch is given up, so an oversized document
costs neither the memory nor the event loop's time to parse it. Keys that cannot be used are
skipped with one warning per fetch (how many, and a few of their kids).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from typing import Any

import aiohttp
import jwt

log = logging.getLogger(__name__)

#: How long one fetch of the key set may take.
FETCH_TIMEOUT_SECONDS = 5.0
#: The largest key set document accepted (bytes, after any content decoding). Providers
#: publish a few keys of a few KiB at most.
MAX_DOCUMENT_BYTES = 1024 * 1024
#: The most keys a key set may hold (usable or not).
MAX_KEYS = 100
#: How many kids of unusable keys the warning names.
NAMED_KIDS = 5
#: The size of the reads the body is taken in.
CHUNK_BYTES = 64 * 1024


class JwksError(Exception):
    """The key set could not be fetched or parsed (logged; never shown to a client)."""


class JwksUnavailable(Exception):
    """A needed key is not cached and the last fetch of the key set failed.

    ``retry_after``: whole seconds (at least 1) until the next fetch is allowed.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__("the JWKS key set is unavailable")
        self.retry_after = retry_after


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
        self._failed = False  # the last fetch failed
        self._lock = asyncio.Lock()
        self.fetches = 0

    @property
    def keys(self) -> list[jwt.PyJWK]:
        """The keys currently cached."""
        return list(self._keys.values())

    async def get(self, kid: str | None) -> list[jwt.PyJWK]:
        """Keys matching ``kid`` (all keys when the token names none).

        Fetches the set the first time, and again when ``kid`` is unknown, at most once per
        ``min_refresh_seconds``. An unknown ``kid`` (or, without one, an empty cache) gives
        ``[]`` after a successful fetch and raises JwksUnavailable after a failed one.
        """
        if kid is not None and kid in self._keys:
            return [self._keys[kid]]
        if kid is None and self._keys:
            return self.keys
        await self._refresh()
        found = self.keys if kid is None else [self._keys[kid]] if kid in self._keys else []
        if not found and self._failed:
            raise JwksUnavailable(self._retry_after())
        return found

    def _retry_after(self) -> int:
        wait = self._fetched_at + self._min_refresh - time.monotonic()
        return max(1, math.ceil(wait))

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._min_refresh:
                return
            self._fetched_at = time.monotonic()
            self.fetches += 1
            try:
                keys = await self._fetch()
            except JwksError as exc:
                log.warning("JWKS fetch from %s failed: %s", self._url, exc)
                self._failed = True
                return
            self._keys, self._failed = keys, False

    async def _fetch(self) -> dict[str, jwt.PyJWK]:
        """The key set at the URL. Raises JwksError naming what went wrong."""
        try:
            timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
            async with self._session.get(self._url, timeout=timeout) as resp:
                resp.raise_for_status()
                body = await _bounded_body(resp)
            document: Any = json.loads(body)
        except TimeoutError:
            raise JwksError(f"no answer within {FETCH_TIMEOUT_SECONDS:g} s") from None
        except (aiohttp.ClientError, ValueError, RecursionError) as exc:
            raise JwksError(f"{type(exc).__name__}: {exc}") from None
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise JwksError('the document is not a key set (no "keys" array)')
        raw_keys: list[Any] = document["keys"]
        if len(raw_keys) > MAX_KEYS:
            raise JwksError(f"the key set has {len(raw_keys)} keys, more than {MAX_KEYS}")
        return _parse(raw_keys)


async def _bounded_body(resp: aiohttp.ClientResponse) -> bytes:
    """The body, read in chunks; JwksError as soon as it exceeds MAX_DOCUMENT_BYTES."""
    too_large = JwksError(f"the document is larger than {MAX_DOCUMENT_BYTES} bytes")
    if resp.content_length is not None and resp.content_length > MAX_DOCUMENT_BYTES:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw_keys: list[Any]) -> dict[str, jwt.PyJWK]:
    """The signing keys of ``raw_keys`` by kid; the unusable ones are skipped with one
    warning for them all."""
    keys: dict[str, jwt.PyJWK] = {}
    unusable: list[str] = []
    first_reason = ""
    for index, raw in enumerate(raw_keys):
        if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
            continue
        kid = str(raw.get("kid", f"#{index}"))
        try:
            key = jwt.PyJWK(raw)
        except (jwt.PyJWTError, ValueError, TypeError, LookupError) as exc:  # whatever it holds
            unusable.append(kid)
            first_reason = first_reason or f"{type(exc).__name__}: {exc}"
            continue
        keys[kid] = key
    if unusable:
        named = ", ".join(repr(kid[:64]) for kid in unusable[:NAMED_KIDS])
        more = f" and {len(unusable) - NAMED_KIDS} more" if len(unusable) > NAMED_KIDS else ""
        log.warning(
            "skipping %d unusable JWKS key(s): %s%s (first: %s)",
            len(unusable),
            named,
            more,
            first_reason,
        )
    return keys
