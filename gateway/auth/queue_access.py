"""Authenticating a request against a queue's rules (before its body is read)."""

from __future__ import annotations

import functools

from aiohttp import web

from gateway.auth.bearer import Authenticator, AuthError, KeysUnavailable, Principal
from gateway.auth.token_cache import VerifiedTokens
from gateway.http.errors import ApiError
from shared.queues.registry import LoadedQueue
from shared.queues.roles import SYSTEM_ADMIN, is_permitted

AUTHENTICATOR = web.AppKey("authenticator", Authenticator)
#: Tokens verified recently (see ``gateway.auth.token_cache``); checked before the verifier.
VERIFIED = web.AppKey("verified_tokens", VerifiedTokens)
ANONYMOUS = Principal(subject="", roles=frozenset(), claims={})


def bearer_token(request: web.Request) -> str | None:
    """The token from ``Authorization: Bearer …`` or ``x-access-token``."""
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("Authorization header must be 'Bearer <token>'", invalid=True)
        return token.strip()
    fallback = request.headers.get("x-access-token")
    return fallback.strip() if fallback else None


def _unauthorized(reason: str, *, invalid: bool) -> ApiError:
    challenge = 'Bearer realm="conveyor"'
    if invalid:
        challenge += ', error="invalid_token"'
    return ApiError(401, reason, headers={"WWW-Authenticate": challenge})


async def authenticate(request: web.Request) -> Principal:
    """The principal of the request's valid bearer token; raises 401 otherwise, or 503 (with
    ``Retry-After``) when the token cannot be checked because the key set is unavailable."""
    token = bearer_token(request)
    if token is None:
        raise _unauthorized("a bearer token is required", invalid=False)
    cache = request.app[VERIFIED]
    principal = cache.get(token)
    if principal is not None:
        return principal
    try:
        principal = await request.app[AUTHENTICATOR].verify(token)
    except AuthError as exc:
        raise _unauthorized(str(exc), invalid=True) from None
    except KeysUnavailable as exc:
        raise ApiError(
            503,
            "the token signing key set is unavailable; try again later",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    cache.put(token, principal)
    return principal


async def require_roles(request: web.Request, roles: frozenset[str], what: str) -> Principal:
    """The caller's principal if its valid token holds one of ``roles``; else 401 or 403."""
    principal = await authenticate(request)
    if principal.roles.isdisjoint(roles):
        raise forbidden(f"{what} needs one of the roles", roles)
    return principal


def forbidden(what: str, roles: frozenset[str]) -> ApiError:
    """The 403 for a token lacking every one of ``roles``: the detail names them, and so
    does the problem's ``required_roles`` member (sorted), for clients that explain it."""
    needed = sorted(roles)
    return ApiError(403, f"{what}: {', '.join(needed)}", extensions={"required_roles": needed})


@functools.lru_cache(maxsize=1024)
def admin_roles(queue: str) -> frozenset[str]:
    """The roles that administer ``queue``: redrive and bulk actions, and seeing
    ``error.traceback`` (``gateway.auth.record_view``). Cached: every answer with a record
    asks (queue names come from definitions, so the cache holds one entry per queue)."""
    return frozenset({SYSTEM_ADMIN, f"{queue}_admin"})


async def authorize(request: web.Request, queue: LoadedQueue) -> Principal:
    """The caller's principal if it may use ``queue``; raises 401 or 403 otherwise."""
    if not queue.definition.auth_enabled:
        return ANONYMOUS
    principal = await authenticate(request)
    rules = queue.definition.roles
    if not is_permitted(principal.roles, queue.allowed_roles, rules.needs_role):
        raise forbidden(f"queue {queue.name} needs one of the roles", queue.allowed_roles)
    return principal
