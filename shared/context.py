"""What a handler receives as ``ctx``: the message's identity and the services it may use."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from shared.client_auth import ClientAuth
from shared.messaging import Messaging
from shared.records import Json


class HandlerMessaging:
    """``ctx.messaging``: push, get and delete on any queue (the seed's messagingService).

    Pushes are validated against the target queue's schema exactly as over HTTP and raise
    ``shared.messaging.ValidationFailed`` / ``UnknownQueue`` / ``Unavailable``. Records are
    returned as the same JSON documents the HTTP API returns.
    """

    def __init__(self, messaging: Messaging) -> None:
        self._messaging = messaging

    async def push(self, queue: str, message: Json) -> dict[str, Json]:
        """Push ``message`` onto ``queue``; the new record."""
        return (await self._messaging.push(queue, message)).to_public()

    async def get(self, queue: str, message_id: str) -> dict[str, Json] | None:
        """The record of ``message_id`` on ``queue``, or None."""
        record = await self._messaging.get(queue, message_id)
        return record.to_public() if record else None

    async def delete(self, queue: str, message_id: str) -> bool:
        """Delete a message; True if it existed."""
        return await self._messaging.delete(queue, message_id)


@dataclass(frozen=True, slots=True)
class Context:
    """The second argument of ``handle(message, ctx)``.

    ``attempt`` is 1 on the first run. ``log`` is a logger bound to the message (its lines
    carry the message id, queue and attempt). ``http`` is one shared aiohttp session: do not
    close it. ``services`` holds what ``handlers/services.py`` registered.
    """

    id: str
    queue: str
    attempt: int
    log: logging.LoggerAdapter[logging.Logger]
    messaging: HandlerMessaging
    http: aiohttp.ClientSession
    services: Mapping[str, Any]
    auth: ClientAuth
    #: The ``X-Request-Id`` of the HTTP request that pushed the message (None if unknown).
    request_id: str | None = None
