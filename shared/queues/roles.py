"""The original service's role rules, in one place, shared by POST, GET and DELETE."""

from __future__ import annotations

from shared.queues.definitions import RoleRules

SYSTEM_ADMIN = "system_admin"
DEFAULT_WRITER_ROLES = ("system_writer", "queue_writer")


def allowed_roles(queue: str, rules: RoleRules) -> frozenset[str]:
    """Roles that may use ``queue``.

    ``system_admin``, ``system_writer``, ``queue_writer`` and ``<queue>_writer``; with
    ``replace`` only ``system_admin`` of those is kept; the definition's own roles are added.
    """
    defaults = (
        [SYSTEM_ADMIN]
        if rules.replace
        else [SYSTEM_ADMIN, *DEFAULT_WRITER_ROLES, f"{queue}_writer"]
    )
    return frozenset([*defaults, *rules.roles])


def is_permitted(token_roles: frozenset[str], allowed: frozenset[str], needs_role: bool) -> bool:
    """Whether a verified token with ``token_roles`` may use a queue."""
    return not needs_role or not token_roles.isdisjoint(allowed)
