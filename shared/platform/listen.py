"""Opening a listening socket with a one-line reason when it cannot be opened, and checking
that it can be before anything else is opened (:func:`check_listen`)."""

from __future__ import annotations

import errno
import os
import socket

from aiohttp import web

from shared.platform.startup import CannotStart


def listen_failure(host: str, port: int, flag: str, exc: OSError) -> str:
    """One line naming the address, the flag that set it and the cause."""
    if isinstance(exc, socket.gaierror):
        return f"--host {host}: not a resolvable address ({exc.strerror})"
    cause = os.strerror(exc.errno) if exc.errno else str(exc)
    if exc.errno == errno.EADDRINUSE:
        cause = "the port is already in use"
    return f"cannot listen on {host}:{port} ({flag}): {cause.lower()}"


async def start_site(site: web.TCPSite, host: str, port: int, flag: str) -> None:
    """``site.start()``; raises CannotStart (one line) if the address cannot be bound."""
    try:
        await site.start()
    except OSError as exc:
        raise CannotStart(listen_failure(host, port, flag, exc)) from None


def check_listen(host: str, port: int, flag: str, *, reuse_port: bool = False) -> None:
    """Bind every address ``host``:``port`` resolves to, as the server will (SO_REUSEADDR,
    IPv6-only for IPv6), and release them: raises CannotStart (the line :func:`start_site`
    would give) when one cannot be bound. Called before a process opens its store, broker or
    secret, so a port in use leaves nothing declared or created; port 0 (any free port) is
    not checked. Another program may still take the port in between: ``start_site`` then
    fails as before. ``reuse_port``: the port is shared with sibling processes
    (``SO_REUSEPORT``, the children of ``--processes``), so one already listening is no
    conflict."""
    if not port:
        return
    try:
        found = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except OSError as exc:
        raise CannotStart(listen_failure(host, port, flag, exc)) from None
    for family, kind, proto, _, address in found:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                raise CannotStart(listen_failure(host, port, flag, exc)) from None
