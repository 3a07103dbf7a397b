"""Tokens verified against an identity provider's JWKS, served by a local aiohttp server the
tests own and count requests on: kid lookup, caching, refetch on an unknown kid, and the rate
limit on refetches.

The cache's rate limit is 10 s of ``time.monotonic``; instead of sleeping, the tests give
``gateway.auth.jwks`` (and only it) a clock they can move forward.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from functools import cache
from typing import Any

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

import gateway.auth.jwks
from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.identity import JwksServer, local_server
from tests.support.responses import error_list
from tests.support.sockets import free_port
from tests.support.tokens import claims, hs256_token


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(name: str, **extra: Any) -> dict[str, Any]:
    """The public JWK of key ``name`` with ``kid = name``."""
    data: dict[str, Any] = RSAAlgorithm.to_jwk(rsa_key(name).public_key(), as_dict=True)
    return {**data, "kid": name, "alg": "RS256", "use": "sig", **extra}


def signed(
    name: str, roles: list[str] | None = None, kid: str | None = "same", **extra: Any
) -> str:
    """An RS256 token signed with key ``name``; ``kid`` defaults to ``name``."""
    headers = {"kid": name if kid == "same" else kid} if kid is not None else None
    body = {**claims(roles or ["tester"]), **extra}
    return jwt.encode(body, rsa_key(name), algorithm="RS256", headers=headers)


class FakeClock:
    """``time`` for ``gateway.auth.jwks``: a monotonic time that stands still until the test
    moves it (so a slow run cannot shift the rate limit's Retry-After)."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.offset = 0.0

    def monotonic(self) -> float:
        return self.start + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(gateway.auth.jwks, "time", fake)
    return fake


@pytest.fixture
async def idp() -> AsyncIterator[JwksServer]:
    server = JwksServer()
    server.keys = [jwk("key-a")]
    async with server.running():
        yield server


@pytest.fixture
async def jwks_api(
    idp: JwksServer, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> Api:
    """A Conveyor whose only key source is the JWKS URL."""
    return api_for(await start_conveyor(jwt_secret=None, jwt_public_key=(), jwks_url=idp.url))


async def test_token_verified_by_kid_and_keys_cached(
    jwks_api: Api, idp: JwksServer, clock: FakeClock
) -> None:
    assert idp.hits == 0, "the key set is fetched lazily"
    for _ in range(5):
        assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    assert idp.hits == 1
    # a known kid is served from the cache however long ago the set was fetched
    clock.advance(3600)
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    assert idp.hits == 1


async def test_kid_selects_the_key(jwks_api: Api, idp: JwksServer) -> None:
    idp.keys = [jwk("key-a"), jwk("key-b")]
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    assert (await jwks_api.post("echo", {}, signed("key-b"))).status == 201
    # signed by b but claiming to be a: only a is tried, so the signature does not match
    await error_list(await jwks_api.post("echo", {}, signed("key-b", kid="key-a")), 401)
    assert idp.hits == 1


async def test_token_without_kid_tries_every_key(jwks_api: Api, idp: JwksServer) -> None:
    idp.keys = [jwk("key-a"), jwk("key-b")]
    assert (await jwks_api.post("echo", {}, signed("key-b", kid=None))).status == 201
    await error_list(await jwks_api.post("echo", {}, signed("key-c", kid=None)), 401)


async def test_unknown_kid_refetches_the_key_set_at_most_once_per_interval(
    jwks_api: Api, idp: JwksServer, clock: FakeClock
) -> None:
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    assert idp.hits == 1

    # the identity provider rotates in key-b; right after a fetch, a refetch is rate-limited
    idp.keys = [jwk("key-a"), jwk("key-b")]
    await error_list(await jwks_api.post("echo", {}, signed("key-b")), 401)
    assert idp.hits == 1

    clock.advance(11)
    assert (await jwks_api.post("echo", {}, signed("key-b"))).status == 201
    assert idp.hits == 2
    assert (await jwks_api.post("echo", {}, signed("key-b"))).status == 201
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    assert idp.hits == 2


async def test_a_flood_of_made_up_kids_does_not_amplify_requests(
    jwks_api: Api, idp: JwksServer, clock: FakeClock
) -> None:
    for n in range(20):
        await error_list(await jwks_api.post("echo", {}, signed("key-x", kid=f"made-up-{n}")), 401)
    assert idp.hits == 1
    clock.advance(11)
    for n in range(20):
        await error_list(await jwks_api.post("echo", {}, signed("key-x", kid=f"again-{n}")), 401)
    assert idp.hits == 2
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201


async def assert_keys_unavailable(resp: Any, retry_after: int) -> None:
    """503 with Retry-After, a body that says only that the key set is unavailable."""
    errors = await error_list(resp, 503)
    assert errors == ["the token signing key set is unavailable; try again later"]
    assert resp.headers["Retry-After"] == str(retry_after)


async def test_identity_provider_down_is_503_with_retry_after(
    jwks_api: Api, idp: JwksServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    idp.broken = True
    await assert_keys_unavailable(await jwks_api.post("echo", {}, signed("key-a")), 10)
    assert idp.url in caplog.text and "500" in caplog.text  # the log names URL and reason
    # while the refetch is rate-limited the answer stays 503, counting down, with no fetch
    clock.advance(6.5)
    await assert_keys_unavailable(await jwks_api.get("/echo", signed("key-a", kid=None)), 4)
    assert idp.hits == 1
    idp.broken = False
    clock.advance(5)
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    assert idp.hits == 2


async def test_a_document_that_is_not_a_key_set_is_503(
    jwks_api: Api, idp: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    idp.document = {"keys": "not a list"}
    await assert_keys_unavailable(await jwks_api.post("echo", {}, signed("key-a")), 10)
    assert "not a key set" in caplog.text


async def test_cached_keys_survive_a_failed_refetch(
    jwks_api: Api, idp: JwksServer, clock: FakeClock
) -> None:
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    idp.broken = True
    clock.advance(11)
    # key-b may be the provider's new key: it cannot be checked now, which is not invalid
    await assert_keys_unavailable(await jwks_api.post("echo", {}, signed("key-b")), 10)
    assert idp.hits == 2
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201


@pytest.mark.parametrize("where", ["closed-port", "hangs"])
async def test_an_unreachable_key_set_is_503_and_only_the_log_names_its_url(
    where: str,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gateway.auth.jwks, "FETCH_TIMEOUT_SECONDS", 0.5)
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()  # past the fetch timeout; released before the server stops
        return web.json_response({"keys": []})

    app = web.Application()
    app.router.add_get("/jwks.json", hang)
    async with local_server(app) as base:
        url = f"{base}/jwks.json" if where == "hangs" else f"http://127.0.0.1:{free_port()}/j"
        api = api_for(await start_conveyor(jwt_secret=None, jwt_public_key=(), jwks_url=url))
        try:
            for path in ("/echo", "/queues"):
                resp = await api.get(path, signed("key-a"))
                text = await resp.text()
                assert resp.status == 503, text
                assert "127.0.0.1" not in text and "http" not in text, text
                assert 1 <= int(resp.headers["Retry-After"]) <= 10
        finally:
            release.set()
    fetch_logs = [r.getMessage() for r in caplog.records if r.name == "gateway.auth.jwks"]
    assert len(fetch_logs) == 1 and url in fetch_logs[0], fetch_logs
    reason = fetch_logs[0].split(" failed: ", 1)[1]
    assert reason.strip(), fetch_logs  # a timeout has a reason too
    if where == "hangs":
        assert "no answer within 0.5 s" in reason


async def test_encryption_keys_are_not_used_for_signatures(jwks_api: Api, idp: JwksServer) -> None:
    idp.keys = [jwk("key-a", use="enc"), jwk("key-b")]
    await error_list(await jwks_api.post("echo", {}, signed("key-a")), 401)
    assert (await jwks_api.post("echo", {}, signed("key-b"))).status == 201


@pytest.fixture
def jwks_key_pem() -> bytes:
    """The PEM of the public key the JWKS publishes (what an attacker can download)."""
    return (
        rsa_key("key-a")
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )


async def test_hmac_tokens_are_not_verified_against_jwks(
    jwks_api: Api, jwks_key_pem: bytes
) -> None:
    await error_list(await jwks_api.post("echo", {}, jwks_api.keys.token(["tester"])), 401)
    jwk_json = RSAAlgorithm.to_jwk(rsa_key("key-a").public_key()).encode()
    for secret in (jwks_key_pem, jwk_json):
        forged = hs256_token(claims(), secret, header={"alg": "HS256", "kid": "key-a"})
        await error_list(await jwks_api.post("echo", {}, forged), 401)


async def test_jwks_tokens_with_roles_claim_path_issuer_and_audience(
    idp: JwksServer, start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(
        await start_conveyor(
            jwt_secret=None,
            jwt_public_key=(),
            jwks_url=idp.url,
            roles_claim="realm_access.roles",
            jwt_issuer="https://idp.test",
            jwt_audience="conveyor",
        )
    )
    good = {"iss": "https://idp.test", "aud": "conveyor"}
    token = jwt.encode(
        {**claims(None), **good, "realm_access": {"roles": ["tester"]}},
        rsa_key("key-a"),
        algorithm="RS256",
        headers={"kid": "key-a"},
    )
    assert (await api.post("echo", {}, token)).status == 201
    no_role = signed("key-a", roles=["nobody"], **good)
    await error_list(await api.post("echo", {}, no_role), 403)
    await error_list(
        await api.post("echo", {}, signed("key-a", iss="https://other", aud="conveyor")), 401
    )


async def test_a_key_set_with_too_many_keys_is_refused_and_cached_keys_keep_working(
    jwks_api: Api, idp: JwksServer, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    # 101 entries (100 junk keys and key-b): refused before any key is built
    idp.keys = [{"kty": "RSA", "kid": f"junk-{n}", "n": "AQAB", "e": "AQAB"} for n in range(100)]
    idp.keys.append(jwk("key-b"))
    clock.advance(11)
    with caplog.at_level(logging.WARNING, logger="gateway.auth.jwks"):
        await assert_keys_unavailable(await jwks_api.post("echo", {}, signed("key-b")), 10)
    assert "101 keys, more than 100" in caplog.text, caplog.text
    assert "junk-" not in caplog.text  # nothing was parsed, so nothing skipped
    assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    # at the limit it is accepted
    idp.keys = idp.keys[1:]
    clock.advance(11)
    assert (await jwks_api.post("echo", {}, signed("key-b"))).status == 201


async def test_unusable_keys_are_skipped_with_one_summary_warning(
    jwks_api: Api, idp: JwksServer, caplog: pytest.LogCaptureFixture
) -> None:
    idp.keys = [{"kty": "RSA", "kid": f"junk-{n}", "n": "!", "e": "?"} for n in range(40)]
    idp.keys.append(jwk("key-a"))
    with caplog.at_level(logging.WARNING, logger="gateway.auth.jwks"):
        assert (await jwks_api.post("echo", {}, signed("key-a"))).status == 201
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.auth.jwks"]
    assert len(lines) == 1, lines
    assert lines[0].startswith("skipping 40 unusable JWKS key(s): 'junk-0', 'junk-1'"), lines
    assert "and 35 more" in lines[0] and "junk-39" not in lines[0], lines


@pytest.mark.parametrize("length", ["declared", "chunked"])
async def test_an_oversized_key_set_is_refused_without_downloading_it(
    length: str,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """24 MiB served (with its Content-Length, or chunked without one): the fetch gives up at
    1 MiB, the token that needed it gets 503 and the cached key keeps verifying."""
    huge = 24 * 1024 * 1024
    good = json.dumps({"keys": [jwk("key-a")]}).encode()
    state = {"oversized": False, "sent": 0, "finished": False}

    async def serve(request: web.Request) -> web.StreamResponse:
        if not state["oversized"]:
            return web.Response(body=good, content_type="application/json")
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        if length == "declared":
            resp.content_length = huge
        await resp.prepare(request)
        chunk = b" " * (256 * 1024)
        await resp.write(b'{"keys": [')
        for _ in range(huge // len(chunk) - 1):
            await resp.write(chunk)  # raises once the client has gone
            state["sent"] = int(state["sent"]) + len(chunk)
        state["finished"] = True
        return resp

    app = web.Application()
    app.router.add_get("/jwks.json", serve)
    async with local_server(app) as base:
        api = api_for(
            await start_conveyor(jwt_secret=None, jwt_public_key=(), jwks_url=f"{base}/jwks.json")
        )
        assert (await api.post("echo", {}, signed("key-a"))).status == 201
        state["oversized"] = True
        clock.advance(11)
        with caplog.at_level(logging.WARNING, logger="gateway.auth.jwks"):
            await assert_keys_unavailable(await api.post("echo", {}, signed("key-b")), 10)
        assert "larger than 1048576 bytes" in caplog.text, caplog.text
        assert (await api.post("echo", {}, signed("key-a"))).status == 201
    assert not state["finished"] and int(state["sent"]) < huge // 2, state
