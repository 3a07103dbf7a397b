"""Who is calling: the identity rate limits and idempotency keys are kept per."""

from __future__ import annotations

from aiohttp import web

from shared.auth import Principal
from shared.registry import LoadedQueue


def caller_of(request: web.Request, queue: LoadedQueue, principal: Principal) -> str:
    """``sub:<token subject>`` on a queue with auth, ``ip:<client address>`` on one without.

    The address is the TCP peer (behind a reverse proxy: the proxy's address, so every
    client of an auth-off queue then shares one identity).
    """
    if queue.definition.auth_enabled:
        return f"sub:{principal.subject}"
    return f"ip:{request.remote or ''}"
