"""The settings of the HTTP side (``serve`` and ``gateway``): listening, request limits,
token verification, metrics, proxies, shutdown, event streams and slow clients."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.platform.settings import values
from shared.platform.settings.declare import DAEMONS, HTTP, option


@dataclass(frozen=True, repr=False)
class HttpOptions:
    """Declarations (``declare.option``) of the HTTP side's settings. ``host`` and
    ``metrics_port`` are here for ``--help``'s order, but ``consumer`` takes them too."""

    host: str = option("127.0.0.1", values.text, "address to listen on", DAEMONS)
    port: int = option(8080, values.port, "TCP port to listen on", HTTP)
    max_body_bytes: int = option(
        1024 * 1024,
        values.positive_int,
        "largest accepted request body in bytes",
        HTTP,
        doc="largest accepted request body",
    )
    max_json_depth: int = option(
        64,
        values.json_depth,
        "most nesting levels of arrays/objects in a body",
        HTTP,
        doc="most nesting levels of arrays/objects in a request body (1 to 256; deeper: `400`)",
    )
    rate_limit_requests: int | None = option(
        None,
        values.positive_int,
        "pushes per caller per window (off when unset)",
        HTTP,
        doc="global rate limit: pushes per caller per window",
        shown="— (off)",
    )
    rate_limit_per_seconds: float = option(
        1.0, values.positive_float, "the global rate limit's window in seconds", HTTP
    )
    batch_max_items: int = option(
        100,
        values.positive_int,
        "most items in one POST /{queue}/batch",
        HTTP,
        doc="most items in one `POST /{queue}/batch`",
    )
    public_openapi: bool = option(
        False,
        values.boolean,
        "serve GET /openapi.json without a token (else any valid token is needed)",
        HTTP,
        switch=True,
        doc="serve `GET /openapi.json` without a token (the flag takes no value; the "
        "variable `true`/`false`)",
    )
    access_log: bool = option(
        True,
        values.boolean,
        "no access log (one INFO line per request)",
        HTTP,
        switch=True,
        off=True,
        doc="the flag (no value) turns the access log off, as does the variable `false` "
        "(see Observability)",
    )
    jwt_secret: str | None = option(
        None,
        values.text,
        "shared secret verifying HS256/HS384/HS512 tokens",
        (*HTTP, "token"),
        secret=True,
    )
    jwt_public_key: tuple[Path, ...] = option(
        (),
        Path,
        "PEM public key file: RSA (RS*/PS*), EC (ES*) or Ed25519 (EdDSA); repeatable",
        HTTP,
        repeat=True,
        doc="PEM public key file: RSA (RS*/PS*), EC (ES*) or Ed25519 (EdDSA); repeatable "
        "(variable: `:`-separated)",
    )
    jwks_url: str | None = option(None, values.text, "JWKS URL of the OIDC identity provider", HTTP)
    jwt_issuer: str | None = option(
        None, values.text, "required `iss` claim", (*HTTP, "token"), doc="required `iss`"
    )
    jwt_audience: str | None = option(
        None, values.text, "required `aud` claim", (*HTTP, "token"), doc="required `aud`"
    )
    roles_claim: str | None = option(
        None,
        values.text,
        "extra dotted claim path holding roles, e.g. realm_access.roles",
        HTTP,
        doc="extra dotted claim path holding roles",
    )
    jwt_leeway_seconds: float = option(
        30.0,
        values.non_negative_float,
        "clock skew allowed on exp/nbf",
        HTTP,
        doc="clock skew allowed on `exp`/`nbf`",
    )
    metrics_port: int = option(
        0,
        values.port,
        "serve /metrics (every series), /healthz and /readyz on this port, to anyone "
        "(gateway: /metrics leaves the API port; consumer: 0 = off)",
        DAEMONS,
        doc="serve `GET /metrics` (every series), `GET /healthz` and `GET /readyz` (with the "
        "queues) on this port (on `--host`), to anyone: keep it private. Gateway and `serve`: "
        "`/metrics` moves off the API port; `conveyor consumer`: 0 = off",
    )
    trusted_proxies: tuple[str, ...] = option(
        (),
        values.networks,
        "reverse proxies (IPs/CIDRs, comma-separated) whose X-Forwarded-For is believed",
        HTTP,
        doc="reverse proxies (IPs or CIDRs, comma-separated) whose `X-Forwarded-For` is "
        "believed: the client is the right-most address that is not one of them (rate limits "
        "and idempotency keys of auth-off queues are per client address)",
    )
    drain_seconds: float = option(
        2.0,
        values.non_negative_float,
        "gateway: on SIGTERM, seconds /readyz answers 503 before new requests are refused",
        HTTP,
        doc="gateway: on SIGTERM, how long `/readyz` answers 503 while requests are still "
        "served, before the listening socket closes (set it above your load balancer's "
        "health-check interval)",
    )
    rabbitmq_management_url: str | None = option(
        None,
        values.http_url,
        "RabbitMQ management API http://user:pass@host:15672 (dashboard consumer counts)",
        HTTP,
        doc="RabbitMQ management API `http://user:pass@host:15672` (the broker's vhost is "
        'used): consumers per queue in `GET /queues` and the dashboard; "unknown" when absent',
    )
    # Event streams (GET /{queue}/{id}/events; gateway/routes/events.py).
    events_heartbeat_seconds: float = option(
        15.0,
        values.positive_float,
        "gateway: an event stream sends a comment after this long without an event",
        HTTP,
        doc="gateway: an event stream (`GET /{queue}/{id}/events`) sends a comment after this "
        "long without an event",
    )
    events_max_seconds: float = option(
        300.0,
        values.positive_float,
        "gateway: an event stream ends after this long (the client reconnects)",
        HTTP,
        doc="gateway: an event stream ends after this long (the client reconnects with "
        "`Last-Event-ID`)",
    )
    # Slow and broken clients (gateway/http/conn_limits.py; docs/operations.md, same title).
    max_connections: int = option(
        16384,
        values.positive_int,
        "most open client connections; more get 503",
        HTTP,
        doc="gateway: most open client connections, lowered to fit the open-file limit; more "
        "get `503` ([slow clients](#slow-and-broken-clients))",
    )
    header_timeout_seconds: float = option(
        10.0,
        values.positive_float,
        "a request's head must arrive in this",
        HTTP,
        doc="gateway: a request's line and headers must arrive within this, else `408`",
    )
    body_timeout_seconds: float = option(
        60.0,
        values.positive_float,
        "a request's body must arrive in this",
        HTTP,
        doc="gateway: a request's whole body must arrive within this after its headers, else `408`",
    )
    idle_timeout_seconds: float = option(
        75.0,
        values.positive_float,
        "close connections idle this long",
        HTTP,
        doc="gateway: close a connection that sends no request for this long (keep-alive)",
    )
    max_header_bytes: int = option(
        8190,
        values.positive_int,
        "largest request header line (else 431)",
        HTTP,
        doc="gateway: largest request header (name and value), else `431`",
    )
