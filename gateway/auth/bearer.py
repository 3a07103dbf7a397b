"""Bearer-token authentication: verify a JWT against the configured keys, extract roles.

Key sources: an HS256 secret, PEM public key files (RSA → RS*/PS*, EC → ES*, Ed25519 →
EdDSA) and a JWKS URL. Each key only verifies tokens of its own algorithm family, so a public
key can never be used as an HMAC secret; ``alg: none`` is never accepted. ``exp`` is
required; ``exp``/``nbf`` are checked with a small leeway; ``iss``/``aud`` when configured.
``exp``, ``nbf`` and ``iat`` must be JSON numbers (RFC 7519 NumericDate), not numeric strings,
between 0 and :data:`MAX_NUMERIC_DATE` (the end of year 9999): a token claiming to expire in
``10**400`` seconds is refused like any other invalid one, so ``exp`` is always a finite
float for whoever reads it (the token cache, an event stream's end).

:meth:`Authenticator.verify` raises :class:`AuthError` for anything a client sent, whatever
the token holds (bytes that are not base64url, deep JSON, odd claim types), and
:class:`KeysUnavailable` only when the token could not be checked because the JWKS key set
could not be fetched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from gateway.auth.jwks import JwksCache, JwksUnavailable

HMAC_ALGS = frozenset({"HS256", "HS384", "HS512"})
RSA_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGS = frozenset({"ES256", "ES384", "ES512"})
OKP_ALGS = frozenset({"EdDSA"})
#: JWS compact serialisation: three base64url segments (padding tolerated). Anything else
#: (other characters, non-ASCII, bytes a header could not decode) is malformed up front.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]*")
NUMERIC_DATE_CLAIMS = ("exp", "nbf", "iat")
#: The largest NumericDate accepted: 9999-12-31T23:59:59Z.
MAX_NUMERIC_DATE = 253_402_300_799


class AuthError(Exception):
    """The token is missing, malformed, expired or not signed by a known key (HTTP 401)."""


class KeysUnavailable(Exception):
    """The token could not be checked: the JWKS key set cannot be fetched (HTTP 503).

    ``retry_after`` is how many seconds until the key set will be fetched again. The message
    names no URL (it is client-safe); the fetch failure itself is logged by ``gateway.auth.jwks``.
    """

    def __init__(self, retry_after: int) -> None:
        super().__init__("the token signing key set is unavailable")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a verified token speaks for."""

    subject: str
    roles: frozenset[str]
    claims: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class VerificationKey:
    """A key bound to the algorithms it may verify."""

    key: Any
    algorithms: frozenset[str]


def load_public_key(path: Path) -> VerificationKey:
    """Read a PEM public key and bind it to its algorithm family. Raises ValueError."""
    key = load_pem_public_key(path.read_bytes())
    if isinstance(key, rsa.RSAPublicKey):
        return VerificationKey(key, RSA_ALGS)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return VerificationKey(key, EC_ALGS)
    if isinstance(key, ed25519.Ed25519PublicKey):
        return VerificationKey(key, OKP_ALGS)
    raise ValueError(f"{path}: unsupported key type {type(key).__name__}")


def _jwk_algorithms(key: jwt.PyJWK) -> frozenset[str]:
    declared = key._jwk_data.get("alg")
    family = {"RSA": RSA_ALGS, "EC": EC_ALGS, "OKP": OKP_ALGS, "oct": HMAC_ALGS}
    allowed = family.get(str(key.key_type), frozenset())
    return frozenset({declared}) & allowed if declared else allowed


def _claim_path(claims: Mapping[str, Any], dotted: str) -> Any:
    node: Any = claims
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def _as_roles(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def extract_roles(claims: Mapping[str, Any], roles_claim: str | None) -> frozenset[str]:
    """Roles from ``roles`` or ``role`` (string or list) and the optional dotted claim path."""
    roles = set(_as_roles(claims.get("roles"))) | set(_as_roles(claims.get("role")))
    if roles_claim:
        roles |= set(_as_roles(_claim_path(claims, roles_claim)))
    return frozenset(roles)


class Authenticator:
    """Verifies bearer tokens. Construct once per process (see ``gateway.app``)."""

    def __init__(
        self,
        keys: Iterable[VerificationKey] = (),
        *,
        jwks: JwksCache | None = None,
        issuer: str | None = None,
        audience: str | None = None,
        roles_claim: str | None = None,
        leeway: float = 30.0,
    ) -> None:
        self._keys = list(keys)
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._roles_claim = roles_claim
        self._leeway = leeway

    async def _candidates(self, alg: str, kid: str | None) -> list[VerificationKey]:
        keys = [k for k in self._keys if alg in k.algorithms]
        if self._jwks is not None and alg not in HMAC_ALGS:
            try:
                jwks_keys = await self._jwks.get(kid)
            except JwksUnavailable as exc:
                raise KeysUnavailable(exc.retry_after) from None
            keys += [
                VerificationKey(k.key, algs)
                for k in jwks_keys
                if alg in (algs := _jwk_algorithms(k))
            ]
        return keys

    async def verify(self, token: str) -> Principal:
        """The principal of a valid token.

        Raises AuthError with a client-safe reason, or KeysUnavailable (see the module
        docstring); nothing else, whatever ``token`` holds.
        """
        if not TOKEN_SHAPE.fullmatch(token):
            raise AuthError("malformed token")
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, RecursionError):
            raise AuthError("malformed token") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in HMAC_ALGS | RSA_ALGS | EC_ALGS | OKP_ALGS:
            raise AuthError(f"token algorithm {alg!r} is not accepted")
        kid = header.get("kid") if isinstance(header.get("kid"), str) else None
        candidates = await self._candidates(alg, kid)
        if not candidates:
            raise AuthError("no key to verify this token")
        last: Exception | None = None
        for candidate in candidates:
            try:
                claims = jwt.decode(
                    token,
                    candidate.key,
                    algorithms=[alg],
                    issuer=self._issuer,
                    audience=self._audience,
                    leeway=self._leeway,
                    options={"require": ["exp"], "verify_aud": self._audience is not None},
                )
            except jwt.InvalidSignatureError as exc:
                last = exc
                continue
            except jwt.PyJWTError as exc:
                raise AuthError(f"invalid token: {exc}") from None
            except RecursionError:
                raise AuthError("malformed token") from None
            except (TypeError, ValueError, OverflowError):
                # PyJWT before 2.10 converts iat/nbf with int() before checking their type:
                # a signed token with "iat": null or a list raised TypeError there.
                raise AuthError("invalid token: a date claim is not a number") from None
            _check_numeric_dates(claims)
            subject = claims.get("sub")
            return Principal(
                subject=str(subject) if subject is not None else "",
                roles=extract_roles(claims, self._roles_claim),
                claims=claims,
            )
        raise AuthError(f"invalid token: {last or 'signature verification failed'}")


def _check_numeric_dates(claims: Mapping[str, Any]) -> None:
    """AuthError unless every present ``exp``/``nbf``/``iat`` is a JSON number from 0 to
    :data:`MAX_NUMERIC_DATE`.

    PyJWT converts with ``int()``, so it takes ``"9999999999"``; RFC 7519 does not. And it
    takes any integer, which ``float()`` cannot always convert (``10**400``).
    """
    for name in NUMERIC_DATE_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise AuthError(f"invalid token: the {name} claim must be a number (NumericDate)")
        if not 0 <= value <= MAX_NUMERIC_DATE:  # False for NaN too; exact for any integer
            raise AuthError(f"invalid token: the {name} claim is out of range")
