"""Who is calling: the identity rate limits and idempotency keys are kept per.

Behind a reverse proxy every TCP peer is the proxy. ``--trusted-proxies`` names the proxies
(addresses or CIDRs) whose ``X-Forwarded-For`` is believed, and only theirs: the client is
the right-most address of the chain that is not a trusted proxy (the entries to its left
were written by the client itself, so they prove nothing).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from gateway.auth.bearer import Principal
from shared.queues.registry import LoadedQueue

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
TRUSTED = web.AppKey("trusted_proxies", tuple)


def networks(items: Sequence[str]) -> tuple[Network, ...]:
    """Parse ``--trusted-proxies`` entries (already validated by the settings)."""
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(request: web.Request) -> str:
    """The client's address: the TCP peer, or, when the peer is a trusted proxy, the
    right-most untrusted address of ``X-Forwarded-For``."""
    peer = request.remote or ""
    trusted: tuple[Network, ...] = request.app.get(TRUSTED, ())
    if not trusted or not _trusted(peer, trusted):
        return peer
    chain = [hop.strip() for hop in request.headers.get("X-Forwarded-For", "").split(",")]
    for hop in reversed([h for h in chain if h]):
        if not _trusted(hop, trusted):
            return hop
    return peer


def caller_of(request: web.Request, queue: LoadedQueue, principal: Principal) -> str:
    """``sub:<token subject>`` on a queue with auth, ``ip:<client address>`` on one without
    (see :func:`client_address`)."""
    if queue.definition.auth_enabled:
        return f"sub:{principal.subject}"
    return f"ip:{client_address(request)}"
