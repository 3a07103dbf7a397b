"""Completion and change events on the events fanout, published in batches.

Every finished message (and, for event streams, every claim, retry, release and progress write)
makes an event. One AMQP publish per event would cost the consumer a RabbitMQ round of client
work per message (see bench/README.md). :class:`EventBatch` instead publishes what accumulated
while the previous publish was under way, or during the current event-loop turn, as one
message: idle, a final event leaves one loop turn later; under load, many share one publish. A
change alone waits up to :data:`CHANGE_WAIT_SECONDS` for company: a message whose handler is
quick then costs one publish (its claim travels with its completion) instead of two, and event
streams see the claim at most that much later. Completions never wait.

Wire format (JSON): one event is ``{"queue", "id"}`` plus ``"final": false`` for a change
(what gateways before batching read), and for a completion whose final record's JSON is at
most ``CARRIED_RECORD_MAX_BYTES``, ``"record"``: that JSON as a string (older gateways ignore
it); several are ``{"events": [<event>, ...]}``. Either carries ``"from"``: the publishing
process, which drops its own events when they come back (it woke its waiters directly).
:func:`decode_from` reads every form. Events are best effort (transient, unconfirmed): a lost
batch only delays waiters until their store re-check.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

#: One event on the wire: ``{"queue": str, "id": str}`` and ``"final": False`` for a change.
Event = dict[str, Any]


def event(queue: str, message_id: str, *, final: bool, record: str | None = None) -> Event:
    """The wire form of one event; ``record``: a completion's final record as JSON text
    (``shared.domain.record_wire``), carried as a string."""
    body: Event = {"queue": queue, "id": message_id}
    if not final:
        body["final"] = False
    if record is not None:
        body["record"] = record
    return body


def encode(events: list[Event], origin: str | None = None) -> bytes:
    """One message body for ``events`` (a single event keeps the unbatched form), sent by
    the process ``origin``."""
    payload: Any = dict(events[0]) if len(events) == 1 else {"events": events}
    if origin is not None:
        payload["from"] = origin
    return json.dumps(payload, separators=(",", ":")).encode()


#: One decoded event: ``(queue, message_id, final, record)``, ``record`` the carried final
#: record's JSON text or None.
Decoded = tuple[str, str, bool, str | None]


def decode_from(body: bytes) -> tuple[str | None, list[Decoded]]:
    """The publishing process (None if unnamed) and :data:`Decoded` per event of a message
    body, batched or not (the carried record's text is left undecoded).

    Raises ValueError, LookupError, TypeError or AttributeError on a malformed body.
    """
    payload = json.loads(body)
    items = payload.get("events", [payload])
    origin = payload.get("from")
    events = [
        (str(e["queue"]), str(e["id"]), e.get("final") is not False, _text(e.get("record")))
        for e in items
    ]
    return (str(origin) if origin is not None else None), events


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


#: How long a change event (not final) may wait for other events to share its publish.
CHANGE_WAIT_SECONDS = 0.005


class EventBatch:
    """Buffers events and publishes them through ``send(body)``, one publish at a time.

    :meth:`add` never waits and never raises; ``send`` failures are logged at DEBUG and the
    batch is dropped (best effort). Use from one event loop.
    """

    def __init__(
        self,
        send: Callable[[bytes], Awaitable[None]],
        change_wait: float = CHANGE_WAIT_SECONDS,
        origin: str | None = None,
    ) -> None:
        self._send = send
        self._origin = origin
        self._change_wait = change_wait
        self._pending: list[Event] = []
        self._task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def add(self, item: Event) -> None:
        """Queue ``item``; it leaves with the next publish (a change alone: within
        :data:`CHANGE_WAIT_SECONDS`, or at once with the next final event)."""
        self._pending.append(item)
        if self._task is not None:  # a publish is under way: the next one takes it
            return
        if item.get("final") is False and self._change_wait > 0:
            if self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(self._change_wait, self._start)
            return
        self._start()

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is None and self._pending:
            self._task = asyncio.get_running_loop().create_task(self._flush(), name="events")

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # let the rest of this loop turn add to the batch
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    await self._send(encode(batch, self._origin))
                except Exception as exc:  # best effort: waiters re-check the store
                    log.debug("%d event(s) not published: %r", len(batch), exc)
        finally:
            self._task = None

    async def drain(self, seconds: float) -> None:
        """Wait up to ``seconds`` for what is buffered to be published (at close)."""
        self._start()  # changes still waiting for company go now
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(seconds):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
