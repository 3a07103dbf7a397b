"""Tokens already verified, so a client sending the same bearer token again skips the
signature check and claim parsing (PyJWT's decode is most of the cost of authentication).

An entry lives until the token's ``exp`` plus the leeway the verifier allows (so a cached
token is accepted exactly as long as verifying it again would accept it), and at most
``max_age`` seconds (so a key removed from a JWKS stops being honoured within that time).
Only successes are cached, keyed by a digest of the token (the token itself is not kept);
the cache holds at most ``max_entries`` tokens, least recently used evicted first.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from gateway.auth.bearer import Principal


class VerifiedTokens:
    """A bounded map from token digest to (principal, valid until)."""

    def __init__(
        self,
        *,
        leeway: float,
        max_age: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._leeway = leeway
        self._max_age = max_age
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[bytes, tuple[Principal, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=20).digest()

    def get(self, token: str) -> Principal | None:
        """The principal of ``token`` if it was verified and is still valid; else None."""
        key = self._key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        principal, until = entry
        if self._clock() >= until:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return principal

    def put(self, token: str, principal: Principal) -> None:
        """Remember that ``token`` verified as ``principal`` (not if its ``exp`` is not a
        number: then it is verified every time)."""
        exp = principal.claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return
        now = self._clock()
        until = min(float(exp) + self._leeway, now + self._max_age)
        if until <= now:
            return
        key = self._key(token)
        self._entries[key] = (principal, until)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
