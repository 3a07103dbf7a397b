"""``conveyor token``: mint an HS256 token for trying things out and for tests."""

from __future__ import annotations

import time
import uuid

import jwt

from shared.platform.settings import Settings, SettingsError


def mint_token(settings: Settings, subject: str, roles: list[str], ttl: int) -> str:
    """A token ``serve`` accepts with the same settings (its secret, issuer, audience)."""
    if not settings.jwt_secret:
        raise SettingsError(
            "conveyor token signs with an HS256 secret: set --jwt-secret "
            "(or configure no key at all to use the generated one)"
        )
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": subject,
        "roles": roles,
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")
