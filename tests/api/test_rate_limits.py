"""Rate limits on pushes (global settings and a queue's ``rate_limit``), in both modes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import aiohttp

from conveyor.serve import Served
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue
from tests.support.responses import error_list


async def assert_429(resp: aiohttp.ClientResponse) -> int:
    """Assert a 429 problem document and an integer Retry-After >= 1; that."""
    await error_list(resp, 429)
    retry = int(resp.headers["Retry-After"])
    assert retry >= 1
    return retry


async def test_off_by_default(api: Api) -> None:
    token = api.keys.token(["tester"])
    answers = await asyncio.gather(*(api.post("echo", {"n": n}, token) for n in range(30)))
    assert {resp.status for resp in answers} == {201}


async def test_global_limit_answers_429_and_recovers_after_the_window(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    api = api_for(await start_conveyor(rate_limit_requests=2, rate_limit_per_seconds=3.0))
    token = api.keys.token(["tester"])
    assert (await api.post("echo", {"n": 1}, token)).status == 201
    assert (await api.post("echo", {"n": 2}, token)).status == 201
    retry = await assert_429(await api.post("echo", {"n": 3}, token))
    assert retry <= 2  # one token back takes 1.5 s
    await asyncio.sleep(retry + 0.1)
    assert (await api.post("echo", {"n": 4}, token)).status == 201


async def test_global_limit_counts_all_queues_per_subject(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    add_queue(queues_dir, "echo2", roles={"roles": ["tester"]})
    api = api_for(await start_conveyor(rate_limit_requests=3, rate_limit_per_seconds=60.0))
    alice, bob = api.keys.token(["tester"], sub="alice"), api.keys.token(["tester"], sub="bob")
    for queue in ("echo", "echo2", "echo"):
        assert (await api.post(queue, {}, alice)).status == 201
    retry = await assert_429(await api.post("echo2", {}, alice))
    assert 1 <= retry <= 20
    assert (await api.post("echo2", {}, bob)).status == 201


async def test_a_queue_limit_applies_to_that_queue_only(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    limit = {"requests": 2, "per_seconds": 60}
    add_queue(queues_dir, "limited", roles={"roles": ["tester"]}, rate_limit=limit)
    api = api_for(await start_conveyor())
    alice, bob = api.keys.token(["tester"], sub="alice"), api.keys.token(["tester"], sub="bob")
    assert (await api.post("limited", {}, alice)).status == 201
    assert (await api.post("limited", {}, alice)).status == 201
    retry = await assert_429(await api.post("limited", {}, alice))
    assert 1 <= retry <= 30
    assert (await api.post("limited", {}, bob)).status == 201  # per subject
    assert (await api.post("echo", {}, alice)).status == 201  # other queues are not limited


async def test_queue_and_global_limits_both_apply(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    limit = {"requests": 1, "per_seconds": 60}
    add_queue(queues_dir, "limited", roles={"roles": ["tester"]}, rate_limit=limit)
    api = api_for(await start_conveyor(rate_limit_requests=3, rate_limit_per_seconds=60.0))
    token = api.keys.token(["tester"])
    assert (await api.post("limited", {}, token)).status == 201
    await assert_429(await api.post("limited", {}, token))  # the queue's own limit
    assert (await api.post("echo", {}, token)).status == 201
    assert (await api.post("echo", {}, token)).status == 201
    await assert_429(await api.post("echo", {}, token))  # the global one (refusals are free)


async def test_auth_off_queue_is_limited_by_client_address(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    limit = {"requests": 2, "per_seconds": 60}
    add_queue(queues_dir, "openlimited", security={"mechanism": "none"}, rate_limit=limit)
    api = api_for(await start_conveyor())
    alice, bob = api.keys.token(["x"], sub="alice"), api.keys.token(["x"], sub="bob")
    assert (await api.post("openlimited", {}, alice)).status == 201
    assert (await api.post("openlimited", {}, bob)).status == 201
    await assert_429(await api.post("openlimited", {}))  # same address, whoever it claims


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    limit = {"requests": 1, "per_seconds": 60}
    add_queue(queues_dir, "openlimited", security={"mechanism": "none"}, rate_limit=limit)
    api = api_for(await start_conveyor(trusted_proxies=("10.0.0.0/8",)))  # not 127.0.0.1
    first = {"X-Forwarded-For": "198.51.100.1"}
    assert (await api.post("openlimited", {}, headers=first)).status == 201
    other = {"X-Forwarded-For": "198.51.100.2"}  # still 127.0.0.1, whatever it claims
    await assert_429(await api.post("openlimited", {}, headers=other))


async def test_trusted_proxies_forwarded_for_names_the_client(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api], queues_dir: Path
) -> None:
    limit = {"requests": 1, "per_seconds": 60}
    add_queue(queues_dir, "openlimited", security={"mechanism": "none"}, rate_limit=limit)

    def via(*chain: str) -> dict[str, str]:
        return {"X-Forwarded-For": ", ".join(chain)}

    api = api_for(await start_conveyor(trusted_proxies=("127.0.0.0/8", "10.0.0.0/8")))
    assert (await api.post("openlimited", {}, headers=via("198.51.100.1"))).status == 201
    assert (await api.post("openlimited", {}, headers=via("198.51.100.2"))).status == 201
    await assert_429(await api.post("openlimited", {}, headers=via("198.51.100.1")))
    # The right-most untrusted hop counts: what the client wrote to its left proves nothing.
    spoofed = via("203.0.113.9", "198.51.100.2", "10.1.2.3")
    await assert_429(await api.post("openlimited", {}, headers=spoofed))


async def test_limit_is_checked_after_auth_and_before_the_body(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor(rate_limit_requests=1, rate_limit_per_seconds=60.0)
    api = api_for(served)
    token = api.keys.token(["tester"])
    for _ in range(3):  # unauthenticated requests use no tokens
        await error_list(await api.post("echo", {}), 401)
    assert (await api.post("echo", {}, token)).status == 201
    resp = await api.session.post(
        f"{served.url}/echo",
        data=b"{not json",
        headers={**api.auth(token), "Content-Type": "application/json"},
    )
    await resp.read()
    await assert_429(resp)


async def test_a_batch_counts_as_its_items(
    start_conveyor: StartConveyor, api_for: Callable[[Served], Api]
) -> None:
    served = await start_conveyor(rate_limit_requests=5, rate_limit_per_seconds=60.0)
    api = api_for(served)
    token = api.keys.token(["tester"])
    url = f"{served.url}/echo/batch"
    resp = await api.session.post(url, json=[{}, {}, {}], headers=api.auth(token))
    assert resp.status == 207, await resp.text()
    resp = await api.session.post(url, json=[{}, {}, {}], headers=api.auth(token))
    await assert_429(resp)
    assert (await api.post("echo", {}, token)).status == 201
    assert (await api.post("echo", {}, token)).status == 201
    await assert_429(await api.post("echo", {}, token))
