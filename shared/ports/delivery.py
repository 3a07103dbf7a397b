"""The delivery ports: the work queue that moves message ids to consumers, and the
completion events that wake waiting clients.

Two protocols because two different parties use them: :class:`WorkQueue` is the gateway's
publish and the consumer's consume (at least once, acked); :class:`CompletionEvents` is a
best-effort fan-out from consumers to every gateway (``GET ?wait=``, and the event
streams of ``GET /{queue}/{id}/events``). :class:`CancelSignals` is the control channel
from the gateway that takes a cancel to the consumer running the message (a fan-out of its
own, so consumers never see completions). Adapters:
``shared.adapters.inprocess.queues`` (one process) and ``shared.adapters.rabbitmq.broker`` (a
quorum queue per definition, and a fanout exchange for events); one adapter class may implement
both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from shared.domain.message import MessageRecord


class Delivered(Protocol):
    """One delivery of a message id to a consumer. Exactly one settle call is made."""

    @property
    def queue(self) -> str:
        """The queue definition name."""

    @property
    def message_id(self) -> str:
        """The message id (the record's key)."""

    @property
    def delivery_count(self) -> int:
        """How many times this message was delivered before (0 on the first delivery)."""

    async def ack(self) -> None:
        """Done with it: remove from delivery. Raises DeliveryUnavailable."""

    async def requeue(self) -> None:
        """Give it back for another consumer (counts as a delivery). Raises
        DeliveryUnavailable (the broker then redelivers it by itself)."""


#: Called once per delivery; the callee owns settling it.
DeliveryCallback = Callable[[Delivered], Awaitable[None]]

#: Called for each completion (or change) event: ``(queue, message_id)``; must not block.
EventCallback = Callable[[str, str], None]
#: A completion's final record as the finishing write left it, built on demand (decoding costs,
#: and only a process with a waiter on the message needs it); None if it cannot be read.
CarriedRecord = Callable[[], MessageRecord | None]
#: Called for each completion: ``(queue, message_id, carried)``, ``carried`` None when the
#: event carries no record (a delete, a cancel, a record too large to carry); must not block.
CompletionCallback = Callable[[str, str, CarriedRecord | None], None]


class WorkQueue(Protocol):
    """Moves message ids from the gateway to consumers, at least once."""

    @property
    def survives_restart(self) -> bool:
        """True when a published message outlives this process (a broker).

        False for in-process delivery: then start-up recovery re-publishes every PENDING
        record, and no publish marks or recovery sweep are needed.
        """

    async def open(self, queues: Sequence[str]) -> None:
        """Connect and declare what ``queues`` need, idempotently. Raises
        DeliveryUnavailable."""

    async def publish(self, queue: str, message_id: str) -> None:
        """Hand the message over; returns only once it is durably accepted.

        Raises DeliveryUnavailable when it was not (the caller undoes its record).
        """

    async def publish_many(self, queue: str, message_ids: Sequence[str]) -> set[str]:
        """Hand all messages over in one confirm window; the ids NOT durably accepted.

        Never raises for a message's failure (it is in the returned set; the caller undoes
        those records).
        """

    async def publish_later(self, queue: str, message_id: str, delay: float) -> None:
        """Deliver the message again in about ``delay`` seconds (a scheduled retry).

        The waiting message is held by the delivery channel, never by a consumer. It may come
        back somewhat early (the store's schedule, ``ClaimOutcome.DEFERRED``, is the authority)
        and is not durable in-process. Raises DeliveryUnavailable.
        """

    async def ready_count(self, queue: str) -> int | None:
        """How many messages of ``queue`` wait to be delivered (ready: not in a consumer's
        hands, not in a delay tier); None when unknown (not open, unreachable, the queue not
        declared). Never raises. The recovery sweep bounds its re-delivery by it."""

    async def consume(
        self, queues: Sequence[str], callback: DeliveryCallback, prefetch: int
    ) -> None:
        """Start calling ``callback`` for deliveries; at most ``prefetch`` unsettled per queue."""

    async def stop_consuming(self, queues: Sequence[str] | None = None) -> None:
        """Stop new deliveries (of ``queues`` only, when given; others are undisturbed);
        unsettled ones can still be settled. :meth:`consume` may start a queue again."""

    async def ping(self) -> None:
        """Return if delivery works; raise DeliveryUnavailable otherwise."""

    async def close(self) -> None:
        """Close connections. Unsettled deliveries return to the queue."""


#: The largest final record (its JSON, in bytes) a completion event carries across a broker;
#: a larger one is not carried and waiters read the store as without a record.
CARRIED_RECORD_MAX_BYTES = 32 * 1024


class CompletionEvents(Protocol):
    """ "Message X reached a final status" (a completion) or "message X changed" (a status
    change or progress report that is not final), from consumers to every gateway (best
    effort).

    Every process hears the other processes' events. Whether it hears its own is
    :attr:`hears_itself`; the :class:`shared.service.announce.Announcer` wakes a process's own
    waiters directly where it does not, so each change wakes a process once.
    """

    #: True when :meth:`publish_event` calls this process's own subscribers before it returns
    #: (in-process events); False when events cross a broker, where a process's own events
    #: never reach its subscribers.
    hears_itself: bool

    async def publish_event(
        self,
        queue: str,
        message_id: str,
        *,
        final: bool = True,
        record: MessageRecord | None = None,
    ) -> None:
        """Tell every other process's subscribers (and this one's if :attr:`hears_itself`)
        that ``message_id`` is final, or with ``final=False`` that it changed.

        ``record``: a completion's final record as its write left it, handed to
        :meth:`subscribe_completions` callbacks (where events cross a broker, only if its
        JSON is at most :data:`CARRIED_RECORD_MAX_BYTES`).

        Never raises: a lost event only delays waiting clients (they re-check the store).
        """

    async def subscribe_events(self, callback: EventCallback) -> None:
        """Call ``callback(queue, message_id)`` for every completion published from now on
        (by this process only if :attr:`hears_itself`)."""

    async def subscribe_completions(self, callback: CompletionCallback) -> None:
        """:meth:`subscribe_events` with the record a completion carries (or None)."""

    async def subscribe_changes(self, callback: EventCallback) -> None:
        """Call ``callback(queue, message_id)`` for every change that is not final published
        from now on (completions go to :meth:`subscribe_events` callbacks only)."""


#: Called for each cancel signal: ``(queue, message_id)``; must not block.
CancelCallback = Callable[[str, str], None]

#: Called for each pause change signal: ``(queue)``; must not block.
PauseCallback = Callable[[str], None]


class CancelSignals(Protocol):
    """ "Stop message X", from whoever took the cancel to every consumer (best effort).

    A dedicated channel (RabbitMQ: the fanout exchange ``<prefix>control``), not the
    completion events: consumers subscribe to it and hear only control messages. A signal
    that is lost is made up for by the store: the holder sees ``cancel_requested`` at its
    next lease renewal (``Claims.renew``).
    """

    async def publish_cancel(self, queue: str, message_id: str) -> None:
        """Tell every subscriber (in every process) to stop ``message_id`` if it runs it.

        Never raises: the store's ``cancel_requested`` flag is the safety net.
        """

    async def subscribe_cancels(self, callback: CancelCallback) -> None:
        """Call ``callback(queue, message_id)`` for every cancel published from now on.

        Raises DeliveryUnavailable when the subscription cannot be made.
        """

    async def publish_pause_change(self, queue: str) -> None:
        """Tell every subscriber that ``queue`` was paused or resumed (they read the store:
        the signal carries no state). Never raises: each process also reads the pauses every
        second (``shared.service.pausing``)."""

    async def subscribe_pause_changes(self, callback: PauseCallback) -> None:
        """Call ``callback(queue)`` for every pause change published from now on (apart from
        the cancels). Raises DeliveryUnavailable when the subscription cannot be made."""
