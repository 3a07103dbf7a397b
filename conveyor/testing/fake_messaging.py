"""``FakeMessaging``: an in-memory ``ctx.messaging`` for unit tests of handlers.

It keeps records in a dict and runs nothing: a pushed message stays ``PENDING`` until the
test moves it (:meth:`FakeMessaging.set_status`). What it shares with Conveyor is what a
handler sees: the same record documents (``MessageRecord.to_public``, never with an
``error.traceback``), the same schema
validation and error messages when it is given the queue definitions, the same errors
(``conveyor.errors``), idempotency keys and delay limits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from shared.domain.idempotency import body_hash
from shared.domain.message import (
    HISTORY_LIMIT,
    ErrorInfo,
    History,
    Json,
    MessageRecord,
    Status,
    Transition,
    utcnow,
)
from shared.domain.payloads import dumps, validation_errors
from shared.queues.definitions import (
    SUFFIX,
    QueueDefinition,
    QueueOptions,
    definition_files,
    load_definition,
    parse_definition,
)
from shared.service import (
    Conflict,
    KeyReused,
    NotFound,
    Start,
    UnknownQueue,
    ValidationFailed,
)
from shared.service.scheduler import schedule_status

#: A queue definition: its ``*.queue.json`` file, a directory of them, or the document.
Definition = str | Path | Mapping[str, Json]


@dataclass(frozen=True, slots=True)
class Push:
    """One accepted ``ctx.messaging.push`` call, as :attr:`FakeMessaging.pushes` keeps it."""

    queue: str
    message: Json
    idempotency_key: str | None
    #: The record the push returned.
    record: dict[str, Json]
    #: False when the key was used before: the push returned the first push's record.
    created: bool = True


def _definitions(sources: tuple[Definition, ...]) -> dict[str, QueueDefinition]:
    loaded: list[QueueDefinition] = []
    for source in sources:
        if isinstance(source, Mapping):
            name = str(source.get("name"))
            loaded.append(parse_definition(Path(name + SUFFIX), dict(source)))
        elif Path(source).is_dir():
            loaded.extend(load_definition(path) for path in definition_files(Path(source)))
        else:
            loaded.append(load_definition(Path(source)))
    return {definition.name: definition for definition in loaded}


def _moved(record: MessageRecord, status: Status, **changes: Json) -> MessageRecord:
    """``record`` in ``status`` now: a new version and history entry, as a store writes."""
    now = utcnow()
    entry = Transition(now, status, int(changes.get("attempts", record.attempts)))
    history = History([*record.history, entry][-HISTORY_LIMIT:])
    return replace(
        record,
        status=status,
        updated_at=now,
        version=record.version + 1,
        history=history,
        **changes,
    )


class FakeMessaging:
    """A :class:`conveyor.Messaging` in memory; records every accepted push in :attr:`pushes`.

    ``definitions``: queue definitions (``*.queue.json`` files, directories of them, or
    definition documents as dicts). With none, any queue name is accepted and no message is
    validated; with some, only those queues exist (``UnknownQueue`` otherwise) and a push is
    validated against its queue's schema as Conveyor validates it (``ValidationFailed`` with
    the same ``errors``) and its delay against ``max_delay_seconds``. Raises
    ``DefinitionError`` for an invalid definition, as ``conveyor check`` would.
    """

    def __init__(self, *definitions: Definition) -> None:
        self._definitions = _definitions(definitions) if definitions else None
        self._records: dict[tuple[str, str], MessageRecord] = {}
        self._keys: dict[tuple[str, str], tuple[str, str]] = {}
        #: Every accepted push, in order (a rejected one raised instead).
        self.pushes: list[Push] = []

    def _queue(self, name: str) -> QueueDefinition | None:
        if self._definitions is None:
            return None
        definition = self._definitions.get(name)
        if definition is None:
            raise UnknownQueue(f"unknown queue {name!r}")
        return definition

    def _record(self, queue: str, message_id: str) -> MessageRecord:
        self._queue(queue)
        record = self._records.get((queue, message_id))
        if record is None:
            raise NotFound(f"no message {message_id} on queue {queue}")
        return record

    async def push(
        self,
        queue: str,
        message: Json,
        *,
        idempotency_key: str | None = None,
        delay: float | None = None,
        not_before: datetime | None = None,
    ) -> dict[str, Json]:
        """See :meth:`conveyor.Messaging.push`."""
        definition = self._queue(queue)
        request = json.loads(dumps(message))  # stored as JSON, as a store does
        if definition is not None:
            errors = validation_errors(definition.validator, request)
            if errors:
                raise ValidationFailed(errors)
        options = definition.options if definition is not None else QueueOptions()
        start = Start(delay, not_before) if delay is not None or not_before is not None else None
        at = start.not_before(utcnow(), options.max_delay_seconds) if start else None
        if idempotency_key is not None and (queue, idempotency_key) in self._keys:
            fingerprint, first = self._keys[queue, idempotency_key]
            if fingerprint != body_hash(request):
                raise KeyReused(
                    f"Idempotency-Key {idempotency_key!r} was already used with a different body"
                )
            held = self._records.get((queue, first))
            if held is None:
                raise Conflict(
                    f"the message Idempotency-Key {idempotency_key!r} created has been deleted"
                )
            self.pushes.append(Push(queue, request, idempotency_key, held.to_public(), False))
            return held.to_public()
        record = MessageRecord.new(queue, request, not_before=at)
        self._records[queue, record.id] = record
        if idempotency_key is not None:
            self._keys[queue, idempotency_key] = (body_hash(request), record.id)
        self.pushes.append(Push(queue, request, idempotency_key, record.to_public()))
        return record.to_public()

    async def get(
        self, queue: str, message_id: str, *, wait: float | None = None
    ) -> dict[str, Json] | None:
        """See :meth:`conveyor.Messaging.get`. ``wait`` does not wait: nothing runs messages
        here, so the record is returned as it is (move it first with :meth:`set_status`)."""
        self._queue(queue)
        record = self._records.get((queue, message_id))
        return record.to_public() if record else None

    async def delete(self, queue: str, message_id: str) -> bool:
        """See :meth:`conveyor.Messaging.delete`."""
        self._queue(queue)
        return self._records.pop((queue, message_id), None) is not None

    async def redrive(self, queue: str, message_id: str) -> dict[str, Json]:
        """See :meth:`conveyor.Messaging.redrive`."""
        record = self._record(queue, message_id)
        if record.status is not Status.ERROR:
            raise Conflict(
                f"message {message_id} is {record.status.value}; only ERROR messages can be retried"
            )
        again = _moved(
            record,
            Status.PENDING,
            attempts=0,
            result=None,
            error=None,
            not_before=None,
            progress=None,
            cancel_requested=False,
        )
        self._records[queue, message_id] = again
        return again.to_public()

    async def schedules(self, queue: str) -> list[dict[str, Json]]:
        """See :meth:`conveyor.Messaging.schedules`: the definition's schedules, none run."""
        definition = self._queue(queue)
        if definition is None:
            return []
        now = utcnow()
        return [schedule_status(schedule, None, now) for schedule in definition.schedules]

    async def cancel(self, queue: str, message_id: str) -> dict[str, Json]:
        """See :meth:`conveyor.Messaging.cancel`."""
        record = self._record(queue, message_id)
        if record.status.final:
            raise Conflict(
                f"message {message_id} is {record.status.value}; only PENDING or INPROGRESS "
                "messages can be cancelled"
            )
        if record.status is Status.INPROGRESS:
            done = replace(record, cancel_requested=True, version=record.version + 1)
        else:
            done = _moved(record, Status.CANCELLED)
        self._records[queue, message_id] = done
        return done.to_public()

    def records(self, queue: str) -> list[dict[str, Json]]:
        """The records on ``queue`` (those pushed and not deleted), oldest first."""
        return [r.to_public() for (q, _), r in self._records.items() if q == queue]

    def set_status(
        self,
        queue: str,
        message_id: str,
        status: Status,
        *,
        result: Json = None,
        error: tuple[str, str] | None = None,
    ) -> dict[str, Json]:
        """Move a message as a run would (``INPROGRESS`` counts an attempt; ``COMPLETE``
        with ``result``; ``ERROR`` with ``error`` as ``(type, message)``); its record.
        Raises NotFound."""
        record = self._record(queue, message_id)
        attempts = record.attempts + (status is Status.INPROGRESS)
        info = ErrorInfo(*error) if error is not None else None
        moved = _moved(record, status, attempts=attempts, result=result, error=info)
        self._records[queue, message_id] = moved
        return moved.to_public()
