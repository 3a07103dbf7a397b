"""One line for "MongoDB cannot be reached": each server's host, port and cause.

PyMongo's ``ServerSelectionTimeoutError`` prints the whole topology description (several
hundred characters per server); an operator needs which address failed and why.
"""

from __future__ import annotations

import os
import re
from typing import Any

#: ``[Errno 111] Connect call failed (...)`` / ``[Errno -2] Name or service not known``.
_ERRNO = re.compile(r"\[Errno (-?\d+)\]\s*(.*)")
_TIMEOUTS = re.compile(r"\s*\(configured timeouts:[^)]*\)")


def cause_of(address: tuple[str, int | None], error: BaseException | None) -> str:
    """The reason one server could not be reached, without its address or timeouts."""
    if error is None:
        return "no answer within the server selection timeout"
    text = _TIMEOUTS.sub("", str(error))
    host, port = address
    text = text.removeprefix(f"{host}:{port}: ").removeprefix(f"{host}: ")
    found = _ERRNO.search(text)
    if found:
        number, rest = int(found.group(1)), found.group(2)
        # Positive numbers are OS errors (111: Connection refused); negative ones are the
        # resolver's, whose own text follows (-2: Name or service not known).
        return os.strerror(number) if number > 0 else rest
    return text.strip() or type(error).__name__


def unreachable(description: Any) -> str:
    """``cannot reach MongoDB at HOST:PORT (cause)[, HOST:PORT (cause)…]`` for a client's
    ``topology_description`` after a server selection timeout."""
    parts = []
    for server in description.server_descriptions().values():
        host, port = server.address
        parts.append(f"{host}:{port} ({cause_of(server.address, server.error)})")
    return "cannot reach MongoDB at " + (", ".join(parts) or "any server")
