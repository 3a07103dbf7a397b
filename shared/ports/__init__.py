"""The ports every mode plugs into: the record store and delivery (see the submodules).

- ``shared.ports.store``: :class:`Store` = :class:`Records` + :class:`Claims` +
  :class:`Recovery` + :class:`Keys` + :class:`ProgressReports` + :class:`StoreLifecycle`;
- ``shared.ports.delivery``: :class:`WorkQueue` (alias :data:`Delivery`) and
  :class:`CompletionEvents`;
- ``shared.ports.types``: the values and errors that cross them.

Nothing above the ports (HTTP layer, consumer, handlers) sees a driver type.
"""

from shared.ports.delivery import (
    CompletionEvents,
    Delivered,
    Delivery,
    DeliveryCallback,
    EventCallback,
    WorkQueue,
)
from shared.ports.store import (
    Claims,
    Keys,
    ProgressReports,
    Records,
    Recovery,
    Store,
    StoreLifecycle,
)
from shared.ports.types import (
    Claim,
    ClaimOutcome,
    DeliveryUnavailable,
    ListCursor,
    MessageRef,
    Outcome,
    QueueCounts,
    StoreRejected,
    StoreUnavailable,
)

__all__ = [
    "Claim",
    "ClaimOutcome",
    "Claims",
    "CompletionEvents",
    "Delivered",
    "Delivery",
    "DeliveryCallback",
    "DeliveryUnavailable",
    "EventCallback",
    "Keys",
    "ListCursor",
    "MessageRef",
    "Outcome",
    "ProgressReports",
    "QueueCounts",
    "Records",
    "Recovery",
    "Store",
    "StoreLifecycle",
    "StoreRejected",
    "StoreUnavailable",
    "WorkQueue",
]
