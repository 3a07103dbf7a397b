"""The ports every mode plugs into: the record store and delivery (see the submodules).

- ``shared.ports.store``: :class:`Store` = :class:`Records` + :class:`Claims` +
  :class:`Recovery` + :class:`Keys` + :class:`ProgressReports` + :class:`StoreLifecycle`
  (+ :class:`ScheduleStates`, :class:`Audit` and :class:`QueuePauses`, in modules of
  their own);
- ``shared.ports.delivery``: :class:`WorkQueue`,
  :class:`CompletionEvents` and :class:`CancelSignals`;
- ``shared.ports.types``: the values and errors that cross them.

Nothing above the ports (HTTP layer, consumer, handlers) sees a driver type.
"""

from shared.ports.audit import Audit
from shared.ports.delivery import (
    CancelCallback,
    CancelSignals,
    CompletionEvents,
    Delivered,
    DeliveryCallback,
    EventCallback,
    PauseCallback,
    WorkQueue,
)
from shared.ports.pauses import QueuePauses
from shared.ports.schedules import ScheduleStates
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
    Cancel,
    CancelOutcome,
    Claim,
    ClaimOutcome,
    DeliveryUnavailable,
    ListCursor,
    MessageRef,
    Outcome,
    QueueCounts,
    RecordExists,
    ScheduleState,
    StoreRejected,
    StoreUnavailable,
)

__all__ = [
    "Audit",
    "Cancel",
    "CancelCallback",
    "CancelOutcome",
    "CancelSignals",
    "Claim",
    "ClaimOutcome",
    "Claims",
    "CompletionEvents",
    "Delivered",
    "DeliveryCallback",
    "DeliveryUnavailable",
    "EventCallback",
    "Keys",
    "ListCursor",
    "MessageRef",
    "Outcome",
    "PauseCallback",
    "ProgressReports",
    "QueueCounts",
    "QueuePauses",
    "RecordExists",
    "Records",
    "Recovery",
    "ScheduleState",
    "ScheduleStates",
    "Store",
    "StoreLifecycle",
    "StoreRejected",
    "StoreUnavailable",
    "WorkQueue",
]
