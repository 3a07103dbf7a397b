"""One store call for the claims (or final writes) asked for in one event-loop turn.

The consumer runs one task per delivery, and each asks for its own claim and, later, its own
final write. A :class:`Coalescer` queues each request with a future; the first request of a
turn schedules a flush with ``loop.call_soon``, which runs once every task already ready
this turn (e.g. those of the deliveries one socket read brought) has had its step, and sends
everything queued by then as one batched call (``Claims.claim_many``, ``finish_many``).
Each caller gets its own answer; an answer that is an exception (a result the store refused)
is raised to its caller only. A lone request waits for nobody: its flush runs in the next
turn.

Guarantees are those of each caller's single call: the batched call answers each item as
its single call would. If the whole call fails (a store outage: StoreUnavailable, or an
item the store cannot take failing the whole statement), each item is sent again alone, at
once and concurrently, as its own single call would have gone: each caller gets its own
answer or error, so one bad item fails only its own caller, and during an outage each
caller gets the error its call would have raised and retries as before
(``consumer.completion.until_stored``), the retries coalescing again. A
caller cancelled while waiting drops its answer (the write may still happen, as with a
single call cancelled mid-write); the others are unaffected.
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
        self._queued: list[tuple[In, asyncio.Future[Out]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def ask(self, item: In) -> Out:
        """The answer for ``item`` from the next batch; raises what the batch raised, or
        the item's own refusal."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((item, future))
        return await future

    def _flush(self) -> None:
        batch, self._queued = self._queued, []
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
