"""What of a record a caller is shown: the one place that decides it, for every route that
answers with records (push, get and ``?wait``, listing, event streams, cancel, redrive).

Everyone allowed on the queue sees the whole record except ``error.traceback``: that is
shown only to a token holding one of the queue's admin roles (``system_admin``,
``<queue>_admin``: :func:`gateway.auth.queue_access.admin_roles`, the roles that may
redrive), and on a queue with auth switched off (where anyone may redrive) to anyone.
Others see ``error`` as ``{"type", "message"}`` only. Handlers' ``ctx.messaging`` never
goes through here: its records never carry a traceback (``MessageRecord.to_public``).
"""

from __future__ import annotations

from collections.abc import Callable

from gateway.auth.bearer import Principal
from gateway.auth.queue_access import admin_roles
from shared.domain.message import Json, MessageRecord
from shared.queues.registry import LoadedQueue

#: A record as one caller is shown it (see :func:`record_view`).
RecordView = Callable[[MessageRecord], dict[str, Json]]


def sees_tracebacks(queue: LoadedQueue, principal: Principal) -> bool:
    """Whether ``principal`` is shown ``error.traceback`` on ``queue`` (module docstring)."""
    if not queue.definition.auth_enabled:
        return True
    return not principal.roles.isdisjoint(admin_roles(queue.name))


def record_view(queue: LoadedQueue, principal: Principal) -> RecordView:
    """The JSON document of a record of ``queue`` as ``principal`` (already authorized on
    the queue) is shown it."""
    tracebacks = sees_tracebacks(queue, principal)

    def view(record: MessageRecord) -> dict[str, Json]:
        return record.to_public(tracebacks=tracebacks)

    return view
