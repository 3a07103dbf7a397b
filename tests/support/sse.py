"""A small Server-Sent Events client over aiohttp, for the event stream tests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

#: The request headers that ask for an event stream.
STREAM = {"Accept": "text/event-stream"}


@dataclass(frozen=True)
class Event:
    """One dispatched event (``event``, ``id``, parsed ``data``), or a comment line."""

    event: str
    id: str | None
    data: Any
    comment: str | None = None

    @property
    def version(self) -> int:
        assert self.id is not None, self
        return int(self.id)


async def events(resp: aiohttp.ClientResponse) -> AsyncIterator[Event]:
    """The events and comments of ``resp`` as they arrive, until the stream ends.

    Follows the SSE parsing rules Conveyor's streams need: ``field: value`` lines, a blank
    line dispatches, ``:`` starts a comment; ``retry:`` lines are skipped.
    """
    fields: dict[str, str] = {}
    data: list[str] = []
    while True:
        raw = await resp.content.readline()
        if not raw:
            return
        line = raw.decode().rstrip("\n").rstrip("\r")
        if not line:
            if data:
                yield Event(
                    fields.get("event", "message"), fields.get("id"), json.loads("\n".join(data))
                )
            fields, data = {}, []
            continue
        if line.startswith(":"):
            yield Event("", None, None, comment=line[1:].strip())
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name in ("event", "id"):
            fields[name] = value


async def collect(resp: aiohttp.ClientResponse) -> list[Event]:
    """Every event (not comments) until the stream ends."""
    return [e async for e in events(resp) if e.comment is None]
