"""The gateway's resources, one module per resource: each declares its endpoints once
(``ROUTES``: path, handler and OpenAPI operation, see ``gateway.routes.spec``).

:data:`ROUTES` is every endpoint in the order the gateway registers them, which matters:
aiohttp takes the first match, so fixed paths come before the ``/{queue}`` patterns, and
``/{queue}/bulk/{action}`` before the ``/{queue}/{id}/...`` ones it would also match.
"""

from gateway.routes import (
    admin,
    audit,
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
    ui,
)
from gateway.routes.spec import Route

ROUTES: tuple[Route, ...] = (
    *root.ROUTES,
    *health.ROUTES,
    *admin.ROUTES,
    *audit.ROUTES,  # a fixed path: before every /{queue} pattern
    *openapi.ROUTES,
    *docs.ROUTES,
    *ui.ROUTES,
    *batch.ROUTES,
    *pausing.ROUTES,  # fixed second segments: before /{queue}/{id}
    *messages.ROUTES,
    *bulk.ROUTES,  # before redrive and cancel: /{queue}/bulk/retry matches both
    *cancel.ROUTES,
    *redrive.ROUTES,
    *events.ROUTES,
    *listing.ROUTES,  # last: GET /{queue} must not shadow fixed paths
)
