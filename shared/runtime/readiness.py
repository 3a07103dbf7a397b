"""Readiness of a process: whether its store and its delivery channel answer.

``GET /readyz`` asks it on the gateway's API port and on ``--metrics-port`` (every process).
The store's ping also fails for a few seconds after a write was refused for a full or
read-only disk (see :meth:`shared.ports.StoreLifecycle.ping`), so a process that cannot
accept pushes does not say it is ready.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.ports import DeliveryUnavailable, StoreLifecycle, StoreUnavailable, WorkQueue


@dataclass(frozen=True, slots=True)
class Failure:
    """A part that does not answer: ``store`` or ``delivery``, and why (the reason may name
    queues, servers or paths: only for callers allowed to see them)."""

    part: str
    reason: str

    @property
    def detail(self) -> str:
        """``part: reason``."""
        return f"{self.part}: {self.reason}"

    @property
    def summary(self) -> str:
        """The part alone (``store unavailable``), for anonymous callers."""
        return f"{self.part} unavailable"


async def failures(store: StoreLifecycle, delivery: WorkQueue) -> list[Failure]:
    """The parts that do not answer now (empty: ready)."""
    found: list[Failure] = []
    try:
        await store.ping()
    except StoreUnavailable as exc:
        found.append(Failure("store", str(exc)))
    try:
        await delivery.ping()
    except DeliveryUnavailable as exc:
        found.append(Failure("delivery", str(exc)))
    return found
