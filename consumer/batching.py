"""One store call for the claims (or final writes) asked for in one event-loop turn.

The consumer runs one task per delivery, and each asks for its own claim and, later, its own
final write. The first request of a turn leads: it yields once (``asyncio.sleep(0)``), so
every task already ready this turn (e.g. those of the deliveries one socket read brought)
has its step and queues its request with a future; then everything queued goes as one
batched call (``Claims.claim_many``, ``finish_many``) in a task of its own, and each caller
gets its own answer; an answer that is an exception (a result the store refused) is raised
to its caller only. A leader nobody joined sends its request itself, from its own task:
one message at a time costs one yield more than a direct store call (no future, no task).

Guarantees are those of each caller's single call: the batched call answers each item as
its single call would. If the whole call fails (a store outage: StoreUnavailable, or an
item the store cannot take failing the whole statement), each item is sent again alone, at
once and concurrently, as its own single call would have gone: each caller gets its own
answer or error, so one bad item fails only its own caller, and during an outage each
caller gets the error its call would have raised and retries as before
(``consumer.completion.until_stored``), the retries coalescing again. A
caller cancelled while waiting drops its answer (the write may still happen, as with a
single call cancelled mid-write); the others are unaffected (a leader cancelled while it
gathers hands what it gathered to a batch of their own).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

#: The batched call: the items in order → one answer per item, in order.
Send = Callable[[list[In]], Awaitable[Sequence[Out | BaseException]]]


class Coalescer(Generic[In, Out]):
    """Coalesces :meth:`ask` calls made in one loop turn into one ``send`` (see the module
    docstring)."""

    def __init__(self, send: Send[In, Out], name: str) -> None:
        self._send = send
        self._name = name
        #: The requests joining this turn's leader; None while no leader gathers.
        self._joining: list[tuple[In, asyncio.Future[Out]]] | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    async def ask(self, item: In) -> Out:
        """The answer for ``item`` from this turn's batch; raises what the batch raised, or
        the item's own refusal."""
        loop = asyncio.get_running_loop()
        if self._joining is not None:  # a leader gathers this turn's requests: join it
            future: asyncio.Future[Out] = loop.create_future()
            self._joining.append((item, future))
            return await future
        self._joining = []
        try:
            await asyncio.sleep(0)  # the tasks ready this turn have their step: they join
        except BaseException:  # cancelled while gathering: those who joined go on alone
            joined, self._joining = self._joining, None
            if joined:
                self._start(joined)
            raise
        joined, self._joining = self._joining, None
        if not joined:  # alone: its own single call, from its own task
            (answer,) = await self._send([item])
            if isinstance(answer, BaseException):
                raise answer
            return answer
        future = loop.create_future()
        self._start([(item, future), *joined])
        return await future

    def _start(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        """Send ``batch`` in a task of its own (its callers' cancellations cannot stop it)."""
        task = asyncio.create_task(self._deliver(batch), name=self._name)
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _deliver(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            answers = await self._send([item for item, _ in batch])
        except Exception as exc:
            if len(batch) > 1:  # each alone, as its single call: one bad item fails only itself
                await asyncio.gather(*(self._deliver([entry]) for entry in batch))
                return
            for _, future in batch:  # its single call failed
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:  # this task cancelled (the loop closing): so are its callers
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():  # its caller was cancelled meanwhile
                continue
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
