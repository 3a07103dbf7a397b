"""Operator actions in the gateway: who counts as a queue's admin for the audit log, and the
one call an operator endpoint makes once its action is done (:func:`audited`).

What is recorded (``shared.domain.audit_entry``; read through ``GET /audit``,
``gateway.routes.audit_log``): redrive and bulk actions (always: they need an admin role, or a
queue with auth off, where the subject is null), cancel and delete when the caller holds an
admin role of the queue (``system_admin`` or ``<queue>_admin``: a writer's own cancel or
delete is not an operator action), and pause/resume, whose endpoints call :func:`audited`
with ``AuditAction.PAUSE``/``RESUME``, target None and count 0. One store write per action,
none per message.
"""

from __future__ import annotations

from gateway.auth.bearer import Principal
from gateway.auth.queue_access import admin_roles
from shared.domain.audit_entry import AuditAction, AuditTarget
from shared.service.auditing import AuditTrail


def administers(principal: Principal, queue: str) -> bool:
    """Whether ``principal`` holds an admin role of ``queue``."""
    return not principal.roles.isdisjoint(admin_roles(queue))


async def audited(
    trail: AuditTrail,
    principal: Principal,
    action: AuditAction,
    queue: str,
    target: AuditTarget,
    count: int,
) -> None:
    """Record ``action`` by ``principal`` (already done) in ``trail``: its subject (null for
    the anonymous caller of a queue with auth off), ``queue``, ``target`` and the ``count``
    of messages acted on. Never fails the request (``shared.service.auditing``)."""
    await trail.record(principal.subject or None, action, queue, target, count)
