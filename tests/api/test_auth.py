"""Bearer-token authentication: where the token comes from, which keys verify it, and every
way it can be invalid (401 with a ``WWW-Authenticate: Bearer`` challenge)."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.responses import error_list
from tests.support.tokens import Keys, claims, hs256_token, raw_token
from tests.support.waiting import wait_until

OTHER_HS_SECRET = "another-secret-" + "y" * 40


@cache
def foreign_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(keys: Keys) -> bytes:
    return keys.rsa_public_path.read_bytes()


async def assert_401(resp: Any) -> list[Any]:
    errors = await error_list(resp, 401)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer"), resp.headers
    return errors


# --- missing or malformed --------------------------------------------------------------


async def test_missing_token_is_401_with_bearer_challenge(api: Api) -> None:
    resp = await api.post("echo", {})
    errors = await assert_401(resp)
    assert "token" in errors[0]
    await assert_401(await api.get("/echo/6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11"))
    await assert_401(await api.delete("/echo/6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11"))


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "Token abc", "not-even-a-scheme"],
)
async def test_malformed_authorization_header_is_401(api: Api, authorization: str) -> None:
    resp = await api.post("echo", {}, headers={"Authorization": authorization})
    await assert_401(resp)
    assert "invalid_token" in resp.headers["WWW-Authenticate"]


# --- invalid tokens --------------------------------------------------------------------


def _expired(keys: Keys) -> str:
    return keys.token(["tester"], ttl=-600)


def _no_exp(keys: Keys) -> str:
    return jwt.encode({"sub": "x", "roles": ["tester"]}, keys.hs_secret, algorithm="HS256")


def _not_yet_valid(keys: Keys) -> str:
    return keys.token(["tester"], extra={"nbf": int(time.time()) + 600})


def _other_secret(keys: Keys) -> str:
    return jwt.encode(claims(), OTHER_HS_SECRET, algorithm="HS256")


def _foreign_rsa(keys: Keys) -> str:
    return jwt.encode(claims(), foreign_rsa_key(), algorithm="RS256")


def _alg_none(keys: Keys) -> str:
    return raw_token({"alg": "none", "typ": "JWT"}, claims())


def _alg_none_capitalised(keys: Keys) -> str:
    return raw_token({"alg": "None", "typ": "JWT"}, claims())


def _alg_none_with_signature(keys: Keys) -> str:
    valid = keys.token(["tester"])
    return raw_token({"alg": "none"}, claims(), signature=valid.encode())


def _key_confusion(keys: Keys) -> str:
    """HS256 signed with the RSA public key PEM as the HMAC secret."""
    return hs256_token(claims(["system_admin"]), public_pem(keys))


def _key_confusion_stripped(keys: Keys) -> str:
    return hs256_token(claims(["system_admin"]), public_pem(keys).strip())


def _tampered_payload(keys: Keys) -> str:
    head, _, signature = keys.token(["nobody"]).split(".")
    forged = raw_token({"alg": "HS256"}, claims(["system_admin"])).split(".")[1]
    return f"{head}.{forged}.{signature}"


def _rs_header_hs_signature(keys: Keys) -> str:
    return hs256_token(claims(), keys.hs_secret.encode(), header={"alg": "RS256", "typ": "JWT"})


def _unknown_alg(keys: Keys) -> str:
    return raw_token({"alg": "XS999"}, claims(), signature=b"whatever")


def _garbage(keys: Keys) -> str:
    return "this.is.garbage"


def _two_segments(keys: Keys) -> str:
    return "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0"


INVALID_TOKENS: dict[str, Callable[[Keys], str]] = {
    "expired": _expired,
    "no-exp": _no_exp,
    "nbf-in-future": _not_yet_valid,
    "wrong-hs-secret": _other_secret,
    "foreign-rsa-key": _foreign_rsa,
    "alg-none": _alg_none,
    "alg-None": _alg_none_capitalised,
    "alg-none-with-signature": _alg_none_with_signature,
    "hs256-signed-with-rsa-public-pem": _key_confusion,
    "hs256-signed-with-stripped-pem": _key_confusion_stripped,
    "tampered-payload": _tampered_payload,
    "rs256-header-hmac-signature": _rs_header_hs_signature,
    "unknown-alg": _unknown_alg,
    "garbage": _garbage,
    "two-segments": _two_segments,
}


@pytest.mark.parametrize("make", INVALID_TOKENS.values(), ids=INVALID_TOKENS.keys())
async def test_invalid_token_is_401(api: Api, make: Callable[[Keys], str]) -> None:
    token = make(api.keys)
    errors = await assert_401(await api.post("echo", {"x": 1}, token))
    assert "invalid_token" in (await api.post("echo", {}, token)).headers["WWW-Authenticate"]
    assert all(isinstance(e, str) for e in errors)
    await assert_401(await api.get("/echo/6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11", token))
    resp = await api.session.get(
        f"{api.base}/echo/6f1c2f7e-4a4b-4a7e-9c7e-2b1f0f0e8a11",
        headers={"x-access-token": token},
    )
    await assert_401(resp)


async def test_key_confusion_is_401_when_only_the_rsa_key_is_configured(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor(jwt_secret=None))
    assert (await api.post("echo", {}, api.keys.token(["tester"], alg="RS256"))).status == 201
    await assert_401(await api.post("echo", {}, _key_confusion(api.keys)))
    await assert_401(await api.post("echo", {}, api.keys.token(["tester"])))


# --- token sources and key types ---------------------------------------------------------


async def test_token_from_x_access_token_header(api: Api) -> None:
    header = {"x-access-token": api.keys.token(["tester"])}
    resp = await api.session.post(f"{api.base}/echo", json={"via": "x"}, headers=header)
    assert resp.status == 201, await resp.text()
    message_id = (await resp.json())["id"]
    got = await api.session.get(f"{api.base}/echo/{message_id}", headers=header)
    assert got.status == 200
    gone = await api.session.delete(f"{api.base}/echo/{message_id}", headers=header)
    assert gone.status == 204


async def test_bearer_scheme_is_case_insensitive(api: Api) -> None:
    header = {"Authorization": f"bearer {api.keys.token(['tester'])}"}
    resp = await api.session.post(f"{api.base}/echo", json={}, headers=header)
    assert resp.status == 201, await resp.text()


@pytest.mark.parametrize("alg", ["RS256", "RS512", "PS256"])
async def test_rsa_signed_token_verified_by_public_key_file(api: Api, alg: str) -> None:
    resp = await api.post("echo", {}, api.keys.token(["tester"], alg=alg))
    assert resp.status == 201, await resp.text()


@pytest.mark.parametrize("alg", ["HS256", "HS384"])
async def test_hmac_token_verified_by_secret(api: Api, alg: str) -> None:
    resp = await api.post("echo", {}, api.keys.token(["tester"], alg=alg))
    assert resp.status == 201, await resp.text()


async def test_secret_only_rejects_rsa_tokens(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor(jwt_public_key=()))
    assert (await api.post("echo", {}, api.keys.token(["tester"]))).status == 201
    await assert_401(await api.post("echo", {}, api.keys.token(["tester"], alg="RS256")))


async def test_ec_public_key_verifies_es256(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], tmp_path: Path
) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "ec.pub.pem"
    pem.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    api = api_for(await start_conveyor(jwt_secret=None, jwt_public_key=(pem,)))
    good = jwt.encode(claims(), private, algorithm="ES256")
    assert (await api.post("echo", {}, good)).status == 201
    await assert_401(await api.post("echo", {}, api.keys.token(["tester"], alg="RS256")))
    await assert_401(await api.post("echo", {}, api.keys.token(["tester"])))
    await assert_401(await api.post("echo", {}, hs256_token(claims(), pem.read_bytes())))


# --- issuer, audience, leeway ------------------------------------------------------------

ISSUER = "https://id.example.test/realms/main"
AUDIENCE = "conveyor-api"


@pytest.mark.parametrize(
    "extra, status",
    [
        ({"iss": ISSUER, "aud": AUDIENCE}, 201),
        ({"iss": ISSUER, "aud": [AUDIENCE, "other"]}, 201),
        ({"aud": AUDIENCE}, 401),
        ({"iss": "https://evil.example.test", "aud": AUDIENCE}, 401),
        ({"iss": ISSUER}, 401),
        ({"iss": ISSUER, "aud": "someone-else"}, 401),
        ({"iss": ISSUER, "aud": ["someone-else"]}, 401),
    ],
    ids=["both", "aud-list", "no-iss", "wrong-iss", "no-aud", "wrong-aud", "wrong-aud-list"],
)
async def test_issuer_and_audience_when_configured(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    extra: dict[str, Any],
    status: int,
) -> None:
    api = api_for(await start_conveyor(jwt_issuer=ISSUER, jwt_audience=AUDIENCE))
    for alg in ("HS256", "RS256"):
        resp = await api.post("echo", {}, api.keys.token(["tester"], alg=alg, extra=extra))
        if status == 401:
            await assert_401(resp)
        else:
            assert resp.status == status, await resp.text()


async def test_issuer_and_audience_are_not_required_when_not_configured(api: Api) -> None:
    extra = {"iss": "https://anyone.example.test", "aud": "anything"}
    assert (await api.post("echo", {}, api.keys.token(["tester"], extra=extra))).status == 201


@pytest.mark.parametrize(
    "leeway, exp_offset, nbf_offset, status",
    [
        (None, -10, None, 201),
        (None, None, 10, 201),
        (None, -120, None, 401),
        (None, None, 120, 401),
        (0.0, -10, None, 401),
        (0.0, None, 10, 401),
        (300.0, -120, None, 201),
        (300.0, None, 120, 201),
    ],
    ids=[
        "default-leeway-recently-expired",
        "default-leeway-nbf-soon",
        "default-leeway-long-expired",
        "default-leeway-nbf-later",
        "no-leeway-recently-expired",
        "no-leeway-nbf-soon",
        "wide-leeway-expired",
        "wide-leeway-nbf-later",
    ],
)
async def test_exp_and_nbf_with_leeway(
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    leeway: float | None,
    exp_offset: int | None,
    nbf_offset: int | None,
    status: int,
) -> None:
    overrides = {} if leeway is None else {"jwt_leeway_seconds": leeway}
    api = api_for(await start_conveyor(**overrides))
    now = int(time.time())
    extra: dict[str, Any] = {}
    if exp_offset is not None:
        extra["exp"] = now + exp_offset
    if nbf_offset is not None:
        extra["nbf"] = now + nbf_offset
    resp = await api.post("echo", {}, api.keys.token(["tester"], extra=extra))
    if status == 401:
        await assert_401(resp)
    else:
        assert resp.status == status, await resp.text()


async def test_a_cached_token_stops_working_when_it_expires(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    """Verified tokens are cached, but never beyond their exp (plus the leeway, 0 here)."""
    api = api_for(await start_conveyor(jwt_leeway_seconds=0.0))
    token = jwt.encode(claims(ttl=2), api.keys.hs_secret, algorithm="HS256")
    assert (await api.post("echo", {"n": 1}, token)).status == 201
    assert (await api.post("echo", {"n": 2}, token)).status == 201  # from the cache

    async def refused() -> bool:
        return (await api.post("echo", {"n": 3}, token)).status != 201

    await wait_until(refused, "the expired token to be refused", 6, interval=0.2)
    await error_list(await api.post("echo", {"n": 4}, token), 401)
