"""The ports every mode plugs into: the record store and delivery (see the submodules).

- ``shared.ports.store``: :class:`Store` = :class:`Records` + :class:`Claims` +
  :class:`Recovery` + :class:`Keys` + :class:`ProgressReports` + :class:`StoreLifecycle`
  (+ :class:`ScheduleStates` in ``shared.ports.schedules``, and the operator features'
  :class:`Audit`, :class:`QueuePauses`, :class:`Rollups`, :class:`Search` and
  :class:`Workers` in ``shared.ports.operations``);
- ``shared.ports.delivery``: :class:`WorkQueue`,
  :class:`CompletionEvents` and :class:`CancelSignals`;
- ``shared.ports.types``: the values and errors that cross them.

Nothing above the ports (HTTP layer, consumer, handlers) sees a driver type.
"""

from shared.ports.delivery import (
    CARRIED_RECORD_MAX_BYTES,
    CancelCallback,
    CancelSignals,
    CarriedRecord,
    CompletionCallback,
    CompletionEvents,
    Delivered,
    DeliveryCallback,
    EventCallback,
    PauseCallback,
    WorkQueue,
)
from shared.ports.operations import (
    Audit,
    FieldMatch,
    QueuePauses,
    Rollups,
    Search,
    WorkerInfo,
    Workers,
)
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
    Finished,
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
    "CARRIED_RECORD_MAX_BYTES",
    "Audit",
    "Cancel",
    "CancelCallback",
    "CancelOutcome",
    "CancelSignals",
    "CarriedRecord",
    "Claim",
    "ClaimOutcome",
    "Claims",
    "CompletionCallback",
    "CompletionEvents",
    "Delivered",
    "DeliveryCallback",
    "DeliveryUnavailable",
    "EventCallback",
    "FieldMatch",
    "Finished",
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
    "Rollups",
    "ScheduleState",
    "ScheduleStates",
    "Search",
    "Store",
    "StoreLifecycle",
    "StoreRejected",
    "StoreUnavailable",
    "WorkQueue",
    "WorkerInfo",
    "Workers",
]
