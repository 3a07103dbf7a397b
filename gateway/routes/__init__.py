"""The gateway's resources, one module per resource: each declares its endpoints once
(``ROUTES``: path, handler and OpenAPI operation, see ``gateway.routes.spec``).

:data:`ROUTES` is every endpoint in the order the gateway registers them, which matters:
aiohttp takes the first match, so fixed paths come before the ``/{queue}`` patterns, and
``/{queue}/bulk/{action}`` before the ``/{queue}/{id}/...`` ones it would also match.
"""

from gateway.routes import (
    admin,
    audit_log,
    batch,
    bulk,
    cancel,
    docs,
    events,
    health,
    listing,
    messages,
    openapi,
    pausing,
    redrive,
    root,
    stats,
    ui,
    worker_list,
)
from gateway.routes.spec import Route

ROUTES: tuple[Route, ...] = (
    *root.ROUTES,
    *health.ROUTES,
    *admin.ROUTES,
    *audit_log.ROUTES,  # fixed paths: before every /{queue} pattern
    *worker_list.ROUTES,
    *openapi.ROUTES,
    *docs.ROUTES,
    *ui.ROUTES,
    *batch.ROUTES,
    *stats.ROUTES,  # fixed second segments: before /{queue}/{id}
    *pausing.ROUTES,
    *messages.ROUTES,
    *bulk.ROUTES,  # before redrive and cancel: /{queue}/bulk/retry matches both
    *cancel.ROUTES,
    *redrive.ROUTES,
    *events.ROUTES,
    *listing.ROUTES,  # last: GET /{queue} must not shadow fixed paths
)
