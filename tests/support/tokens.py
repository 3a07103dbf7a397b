"""Tokens: :class:`Keys` (the signing material the suite owns) and JWTs assembled by hand."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

HS_SECRET = "test-secret-" + "x" * 40


@dataclasses.dataclass(frozen=True)
class Keys:
    """Signing material the tests own."""

    hs_secret: str
    rsa_private: rsa.RSAPrivateKey
    rsa_public_path: Path

    def token(
        self,
        roles: list[str] | str | None = None,
        *,
        sub: str = "tester",
        alg: str = "HS256",
        ttl: int = 300,
        extra: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A signed token; ``roles=None`` omits the claim."""
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl}
        if roles is not None:
            claims["roles"] = roles
        claims.update(extra or {})
        key: Any = self.hs_secret if alg.startswith("HS") else self.rsa_private
        return jwt.encode(claims, key, algorithm=alg, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header: Mapping[str, Any], claims: Mapping[str, Any], signature: bytes = b"") -> str:
    """A JWT assembled by hand (for algorithms PyJWT refuses to produce)."""
    head = b64url(json.dumps(dict(header)).encode())
    body = b64url(json.dumps(dict(claims)).encode())
    return f"{head}.{body}.{b64url(signature)}"


def hs256_token(
    claims: Mapping[str, Any], secret: bytes, header: Mapping[str, Any] | None = None
) -> str:
    """An HS256 JWT signed with any bytes as the secret (e.g. a public key PEM)."""
    head = b64url(json.dumps(dict(header or {"alg": "HS256", "typ": "JWT"})).encode())
    body = b64url(json.dumps(dict(claims)).encode())
    signature = hmac.new(secret, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(signature)}"


def claims(roles: Sequence[str] | None = ("tester",), ttl: int = 300) -> dict[str, Any]:
    now = int(time.time())
    out: dict[str, Any] = {"sub": "tester", "iat": now, "exp": now + ttl}
    if roles is not None:
        out["roles"] = list(roles)
    return out
