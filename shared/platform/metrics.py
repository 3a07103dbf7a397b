"""Prometheus metrics of one process, on a registry of its own (never the global default).

One :class:`Metrics` is made per process by its composition root (it lives on the
``Runtime``), so ``conveyor serve`` reports gateway and consumer on one registry. Importing
this module creates nothing. The registry also carries the client library's standard
``process_*`` and ``python_*`` collectors, and the ``*_created`` series are switched off
(a process-wide client setting; creating a :class:`Metrics` applies it).

Label conventions: ``code`` is an HTTP status code, ``status`` a record status
(``COMPLETE``/``ERROR``), ``route`` a path template (``/{queue}/{id}``, never a raw path),
``method`` one of :data:`METHODS` or ``other``.

Queue depth and oldest-pending age are not counted as events: they are read from
:meth:`shared.ports.Store.counts` when scraped, at most once per ``cache_seconds``.

Every series with a ``queue`` label lives on a second registry, ``queue_registry``, so
:meth:`Metrics.exposition` can leave all of them out (``with_queues=False``) for a caller who
may not learn queue names, without filtering samples one by one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from shared.domain.message import Status, utcnow
from shared.ports import Records

#: The Content-Type of the text exposition format.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: Request methods kept as a ``method`` label; any other is counted as ``other``.
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The ``route`` of a request no route matched (so raw paths never become labels).
UNMATCHED = "unmatched"


class Metrics:
    """Every Conveyor metric; the methods are what the gateway and consumer call."""

    def __init__(self, cache_seconds: float = 5.0) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # (untyped upstream)
        #: Series without a ``queue`` label (process, HTTP requests, auth failures).
        self.registry = CollectorRegistry()
        #: Series labelled by ``queue`` (their label values are queue names).
        self.queue_registry = CollectorRegistry()
        p, r = self.registry, self.queue_registry
        ProcessCollector(registry=p)
        PlatformCollector(registry=p)
        GCCollector(registry=p)  # registers nothing off CPython
        self._pushes = Counter(
            "conveyor_pushes",
            "Pushes (POST /{queue} and batch items) by HTTP status code",
            ["queue", "code"],
            registry=r,
        )
        self._requests = Histogram(
            "conveyor_http_request_duration_seconds",
            "HTTP request time, by route (path template), method and status code",
            ["route", "method", "code"],
            buckets=DURATION_BUCKETS,
            registry=p,
        )
        self._finished = Counter(
            "conveyor_messages_finished",
            "Handler runs that wrote a final status",
            ["queue", "status"],
            registry=r,
        )
        self._duration = Histogram(
            "conveyor_handler_duration_seconds",
            "Handler run time, claim to final status",
            ["queue"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self._in_flight = Gauge(
            "conveyor_handlers_in_flight", "Handlers running now", ["queue"], registry=r
        )
        self._retries = Counter(
            "conveyor_retries", "Failed runs scheduled to run again", ["queue"], registry=r
        )
        self._dead = Counter(
            "conveyor_dead_letters",
            "Messages marked ERROR after exhausting their deliveries",
            ["queue"],
            registry=r,
        )
        self._cancels = Counter(
            "conveyor_cancels",
            "Cancels taken: of a waiting message (CANCELLED at once) or a running one (asked)",
            ["queue", "state"],
            registry=r,
        )
        self._without_record = Counter(
            "conveyor_deliveries_without_record",
            "Deliveries acked unrun because this store has no record of them (deleted, or "
            "pushed through another store on the same queue prefix)",
            ["queue"],
            registry=r,
        )
        self._auth_failures = Counter(
            "conveyor_auth_failures",
            "Requests refused: missing_token, invalid_token (401) or forbidden (403)",
            ["reason"],
            registry=p,
        )
        self._depth = Gauge(
            "conveyor_queue_depth", "PENDING messages (at scrape time)", ["queue"], registry=r
        )
        self._oldest = Gauge(
            "conveyor_oldest_pending_age_seconds",
            "Age of the oldest PENDING message (0 when none)",
            ["queue"],
            registry=r,
        )
        self._paused = Gauge(
            "conveyor_queue_paused",
            "1 while the queue is paused (POST /{queue}/pause), 0 once resumed",
            ["queue"],
            registry=r,
        )
        #: Store counts are reused for this long between scrapes.
        self.cache_seconds = cache_seconds
        self._refreshed_at: float | None = None
        self._paused_queues: set[str] = set()
        self._refresh_lock = asyncio.Lock()
        #: Label children already looked up, by metric and label values: ``labels()`` takes a
        #: lock and rebuilds its key on every call, and the hot path asks for the same few.
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        """``metric.labels(*values)``, looked up once per distinct ``values``."""
        key = (metric, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def pushed(self, queue: str, code: int) -> None:
        """A ``POST /{queue}`` was answered with HTTP status ``code``."""
        self._child(self._pushes, queue, str(code)).inc()

    def requested(self, route: str, method: str, code: int, duration_seconds: float) -> None:
        """A request to ``route`` (a path template, or :data:`UNMATCHED`) was answered
        ``code`` after ``duration_seconds``; a ``method`` outside :data:`METHODS` counts as
        ``other``."""
        method = method if method in METHODS else "other"
        self._child(self._requests, route, method, str(code)).observe(duration_seconds)

    def finished(self, queue: str, status: Status, duration_seconds: float) -> None:
        """A handler run took ``duration_seconds`` and its record is now ``status``; it counts
        as a finished message only when ``status`` is final (not a retry put back PENDING)."""
        if status.final:
            self._child(self._finished, queue, status.value).inc()
        self._child(self._duration, queue).observe(duration_seconds)

    @contextmanager
    def running(self, queue: str) -> Iterator[None]:
        """Count a handler as in flight for the duration of the block."""
        gauge = self._child(self._in_flight, queue)
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    def retried(self, queue: str) -> None:
        """A failed run on ``queue`` was scheduled to run again."""
        self._retries.labels(queue=queue).inc()

    def dead_lettered(self, queue: str) -> None:
        """A message on ``queue`` was marked ERROR after its deliveries ran out."""
        self._dead.labels(queue=queue).inc()

    def cancelled(self, queue: str, *, running: bool) -> None:
        """A cancel of a message on ``queue`` was taken: ``running`` (asked to stop) or
        waiting (``CANCELLED`` at once)."""
        self._cancels.labels(queue=queue, state="running" if running else "waiting").inc()

    def delivered_without_record(self, queue: str) -> None:
        """A delivery on ``queue`` had no record in this store (acked unrun)."""
        self._without_record.labels(queue=queue).inc()

    def paused(self, queues: Collection[str]) -> None:
        """The queues paused now: 1 for each, 0 for those paused before and not now."""
        for queue in self._paused_queues - set(queues):
            self._paused.labels(queue=queue).set(0)
        for queue in queues:
            self._paused.labels(queue=queue).set(1)
        self._paused_queues = set(queues)

    def auth_failed(self, reason: str) -> None:
        """A request was refused: ``missing_token``, ``invalid_token`` or ``forbidden``."""
        self._auth_failures.labels(reason=reason).inc()

    async def refresh_depth(self, store: Records, queues: list[str]) -> None:
        """Set depth and oldest-pending age of ``queues`` from the store, unless done within
        ``cache_seconds``. Raises StoreUnavailable (the caller decides what to show)."""
        async with self._refresh_lock:
            now = time.monotonic()
            if self._refreshed_at is not None and now - self._refreshed_at < self.cache_seconds:
                return
            counts = await store.counts()
            wall = utcnow()
            self._depth.clear()
            self._oldest.clear()
            for queue in queues:
                found = counts.get(queue)
                pending = found.by_status.get(Status.PENDING, 0) if found else 0
                oldest = found.oldest_pending if found else None
                self._depth.labels(queue=queue).set(pending)
                age = (wall - oldest).total_seconds() if oldest else 0.0
                self._oldest.labels(queue=queue).set(max(age, 0.0))
            self._refreshed_at = now

    def exposition(self, *, with_queues: bool = True) -> bytes:
        """The metrics in the Prometheus text format; without the series labelled by
        ``queue`` unless ``with_queues``."""
        public = generate_latest(self.registry)
        return public + generate_latest(self.queue_registry) if with_queues else public
