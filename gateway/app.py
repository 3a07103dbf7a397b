"""Composition root of the HTTP gateway: the app factory and ``conveyor gateway``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from gateway.auth.bearer import HMAC_ALGS, Authenticator, VerificationKey, load_public_key
from gateway.auth.callers import TRUSTED, networks
from gateway.auth.jwks import JwksCache
from gateway.auth.queue_access import AUTHENTICATOR, VERIFIED
from gateway.auth.token_cache import VerifiedTokens
from gateway.draining import DRAIN, DrainState, drain_and_close
from gateway.http.capacity import (
    LISTEN_BACKLOG,
    ConnectionLimits,
    accept_errors_summarised,
    connection_cap,
    raise_descriptor_limit,
)
from gateway.http.conn_limits import GuardedRunner
from gateway.http.errors import json_errors
from gateway.http.observe import observe
from gateway.http.protocol import add_always_headers, refuse
from gateway.http.ratelimit import RateLimiter
from gateway.http.throttle import RATE_LIMITER
from gateway.routes import ROUTES
from gateway.routes.listing import search_indexes
from gateway.routes.messages import RUNTIME
from gateway.routes.spec import register
from shared.platform.listen import start_site
from shared.platform.settings import Settings, SettingsError
from shared.platform.signals import wait_for_stop_signal
from shared.queues.registry import Registry
from shared.queues.reload import running_reloader
from shared.runtime.metrics_server import check_ports, serving_metrics
from shared.runtime.resources import Runtime, open_runtime

log = logging.getLogger(__name__)


def verification_keys(settings: Settings) -> list[VerificationKey]:
    """The configured secret and public keys. Raises SettingsError on a bad key file."""
    keys: list[VerificationKey] = []
    if settings.jwt_secret:
        keys.append(VerificationKey(settings.jwt_secret, HMAC_ALGS))
    for path in settings.jwt_public_key:
        try:
            keys.append(load_public_key(path))
        except (OSError, ValueError) as exc:
            raise SettingsError(f"--jwt-public-key {path}: {exc}") from None
    return keys


def build_authenticator(settings: Settings, http: aiohttp.ClientSession) -> Authenticator:
    """The token verifier for the configured keys. Raises SettingsError on a bad key file."""
    keys = verification_keys(settings)
    jwks = JwksCache(settings.jwks_url, http) if settings.jwks_url else None
    return Authenticator(
        keys,
        jwks=jwks,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        roles_claim=settings.roles_claim,
        leeway=settings.jwt_leeway_seconds,
    )


def create_app(rt: Runtime) -> web.Application:
    """The gateway application over an open runtime."""
    app = web.Application(
        middlewares=[observe, json_errors, refuse], client_max_size=rt.settings.max_body_bytes
    )
    app.on_response_prepare.append(add_always_headers)
    app[RUNTIME] = rt
    app[TRUSTED] = networks(rt.settings.trusted_proxies)
    app[DRAIN] = DrainState()
    app[AUTHENTICATOR] = build_authenticator(rt.settings, rt.http)
    app[VERIFIED] = VerifiedTokens(leeway=rt.settings.jwt_leeway_seconds)
    app[RATE_LIMITER] = RateLimiter()
    app.cleanup_ctx.append(search_indexes)
    register(app, ROUTES, rt.settings)
    return app


def require_keys(settings: Settings, registry: Registry) -> None:
    """Refuse to run with no key unless every queue has auth switched off, or with a key
    file that does not load: before the store or broker is opened (SettingsError)."""
    verification_keys(settings)
    if settings.has_keys:
        return
    protected = [q.name for q in registry.queues.values() if q.definition.auth_enabled]
    if protected:
        raise SettingsError(
            "no token verification key configured: set --jwks-url, --jwt-public-key or "
            f"--jwt-secret (queues needing auth: {', '.join(protected)})"
        )


def connection_limits(settings: Settings) -> ConnectionLimits:
    """The limits on client connections, the cap fitted to the open-file limit (which is
    raised to its hard limit first: see ``gateway.http.capacity``)."""
    descriptors = raise_descriptor_limit()
    cap = connection_cap(settings.max_connections, descriptors)
    if cap < settings.max_connections:
        log.warning(
            "open-file limit %s leaves room for %d client connections: --max-connections %d "
            "lowered to %d (raise the hard limit, e.g. ulimit -Hn, for more)",
            descriptors,
            cap,
            settings.max_connections,
            cap,
        )
    return ConnectionLimits(
        max_connections=cap,
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        idle_timeout=settings.idle_timeout_seconds,
        max_header_bytes=settings.max_header_bytes,
    )


@asynccontextmanager
async def serving_http(rt: Runtime) -> AsyncIterator[web.AppRunner]:
    """Listen on ``--host``/``--port`` until the block exits, then drain and close
    (``gateway.draining``).

    Client connections obey ``gateway.http.conn_limits`` (read timeouts, a cap, JSON protocol
    errors); a shortage of descriptors on ``accept()`` is logged once per interval.
    """
    limits = connection_limits(rt.settings)
    app = create_app(rt)
    runner = GuardedRunner(
        app,
        limits,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=rt.settings.grace_seconds,
    )
    # Other processes' completions and changes wake this gateway's GET ?wait= clients and
    # event streams (GET /{queue}/{id}/events).
    await rt.announcer.listen()
    # Pushes to a paused queue may be refused: the pauses are read every second.
    async with rt.pauses.watching(), _listening(rt, app, runner, limits) as listening:
        yield listening


@asynccontextmanager
async def _listening(
    rt: Runtime, app: web.Application, runner: web.AppRunner, limits: ConnectionLimits
) -> AsyncIterator[web.AppRunner]:
    await runner.setup()
    host, port = rt.settings.host, rt.settings.port
    # The children of `--processes N` share the port: the kernel spreads new connections.
    shared = rt.settings.child_index is not None
    site = web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG, reuse_port=shared or None)
    with accept_errors_summarised(asyncio.get_running_loop()):
        try:
            await start_site(site, host, port, "--port")
        except BaseException:
            await runner.cleanup()  # nothing was served: nothing to drain
            raise
        try:
            for address in runner.addresses:
                base = f"http://{address[0]}:{address[1]}"
                log.info(
                    "gateway listening on %s/ (dashboard %s/ui, API docs %s/docs; "
                    "at most %d connections)",
                    base,
                    base,
                    base,
                    limits.max_connections,
                )
            yield runner
        finally:
            await drain_and_close(runner, app[DRAIN], rt.notifier, rt.settings.drain_seconds)


async def run_gateway(settings: Settings) -> None:
    """``conveyor gateway``: serve HTTP until SIGTERM/SIGINT (its ports checked first)."""
    check_ports(settings, http=True)
    async with open_runtime(
        settings, role="gateway", with_handlers=False, before_opening=require_keys
    ) as rt:
        reloading = running_reloader(rt.reloader(with_handlers=False))
        metrics = serving_metrics(rt)
        async with serving_http(rt), metrics, reloading as reloader:
            await wait_for_stop_signal(on_reload=reloader.request)
            log.info("stop signal received; shutting down gateway")
