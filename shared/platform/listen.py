"""Opening a listening socket with a one-line reason when it cannot be opened."""

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
