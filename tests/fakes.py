"""Fakes for unit tests (behaviour tests use the real adapters).

:class:`FakeDelivered` stands in for one :class:`shared.ports.Delivered`: it records every
settle call, can make them fail or wait, and, like the real adapters, refuses a second one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

Settle = Literal["ack", "requeue"]


@dataclass
class FakeDelivered:
    """One delivery of ``message_id`` on ``queue``; satisfies ``shared.ports.Delivered``.

    ``calls`` lists every settle call in order (a failing or second one included), so a test
    asserts ``calls == ["ack"]`` for "exactly one ack". ``fail`` is raised by every settle
    call after it is recorded (e.g. ``DeliveryUnavailable``: the channel is gone). ``gate``,
    when set, is awaited before a settle call is recorded (a slow broker); a cancelled wait
    records nothing. A second settle call raises ``RuntimeError``, as the real ones do.
    """

    message_id: str = "m-1"
    queue: str = "q"
    delivery_count: int = 0
    fail: Exception | None = None
    gate: asyncio.Event | None = None
    calls: list[Settle] = field(default_factory=list)
    _done: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    @property
    def settled(self) -> Settle | None:
        """The first settle call, or None while unsettled."""
        return self.calls[0] if self.calls else None

    async def wait_settled(self, within: float = 5.0) -> Settle:
        """Wait (at most ``within`` seconds) for the first settle call; which it was."""
        await asyncio.wait_for(self._done.wait(), within)
        assert self.settled is not None
        return self.settled

    async def ack(self) -> None:
        await self._settle("ack")

    async def requeue(self) -> None:
        await self._settle("requeue")

    async def _settle(self, what: Settle) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.calls.append(what)
        self._done.set()
        if len(self.calls) > 1:
            raise RuntimeError(f"delivery of {self.message_id} settled twice: {self.calls}")
        if self.fail is not None:
            raise self.fail
