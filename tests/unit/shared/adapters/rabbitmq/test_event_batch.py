"""Batched events (``shared.adapters.rabbitmq.event_batch``): wire format and the batching loop,
with a fake ``send`` (the RabbitMQ path: ``tests/contract/delivery/test_rabbitmq.py``)."""

from __future__ import annotations

import asyncio
import json

import pytest

from shared.adapters.rabbitmq.event_batch import EventBatch, decode_from, encode, event


def decode(body: bytes) -> list[tuple[str, str, bool]]:
    """The events of a body, whoever sent it (without carried records)."""
    return [(queue, mid, final) for queue, mid, final, _record in decode_from(body)[1]]


def test_one_event_keeps_the_unbatched_form_and_both_forms_decode() -> None:
    one = encode([event("q", "a", final=True)])
    assert json.loads(one) == {"queue": "q", "id": "a"}  # what older gateways read
    many = encode([event("q", "a", final=True), event("q", "b", final=False)])
    assert json.loads(many) == {
        "events": [{"queue": "q", "id": "a"}, {"queue": "q", "id": "b", "final": False}]
    }
    assert decode_from(one) == (None, [("q", "a", True, None)])
    assert decode_from(many) == (None, [("q", "a", True, None), ("q", "b", False, None)])
    signed = encode([event("q", "a", final=True)], "p1")
    assert decode_from(signed) == ("p1", [("q", "a", True, None)])


def test_a_completion_carries_its_record_as_text_left_undecoded() -> None:
    body = encode([event("q", "a", final=True, record='{"id":"a"}'), event("q", "b", final=True)])
    assert json.loads(body)["events"][0] == {"queue": "q", "id": "a", "record": '{"id":"a"}'}
    assert decode_from(body) == (None, [("q", "a", True, '{"id":"a"}'), ("q", "b", True, None)])
    not_text = b'{"queue": "q", "id": "a", "record": {"id": "a"}}'
    assert decode_from(not_text) == (None, [("q", "a", True, None)])  # ignored, not trusted


@pytest.mark.parametrize("body", [b"[]", b"{}", b'{"events": [1]}', b"nope"])
def test_a_malformed_body_raises_what_the_subscriber_catches(body: bytes) -> None:
    with pytest.raises((ValueError, LookupError, TypeError, AttributeError)):
        decode_from(body)


async def test_events_of_one_turn_leave_together_and_later_ones_wait_for_the_publish() -> None:
    sent: list[list[tuple[str, str, bool]]] = []
    release = asyncio.Event()

    async def send(body: bytes) -> None:
        sent.append(decode(body))
        await release.wait()  # a slow publish: what arrives meanwhile forms the next batch

    batch = EventBatch(send)
    for n in range(3):
        batch.add(event("q", f"a{n}", final=True))
    await asyncio.sleep(0.01)
    assert sent == [[("q", "a0", True), ("q", "a1", True), ("q", "a2", True)]]
    batch.add(event("q", "b0", final=False))
    batch.add(event("q", "b1", final=True))
    await asyncio.sleep(0.01)
    assert len(sent) == 1  # the first publish is still under way
    release.set()
    await batch.drain(1)
    assert sent[1] == [("q", "b0", False), ("q", "b1", True)]


async def test_a_change_waits_briefly_for_company_and_a_completion_takes_it_at_once() -> None:
    sent: list[list[tuple[str, str, bool]]] = []
    arrived = asyncio.Event()

    async def send(body: bytes) -> None:
        sent.append(decode(body))
        arrived.set()

    batch = EventBatch(send, change_wait=0.2)
    batch.add(event("q", "m1", final=False))  # a claim
    await asyncio.sleep(0.02)
    assert sent == []  # waiting for company
    batch.add(event("q", "m1", final=True))  # its completion: both leave now, together
    await asyncio.sleep(0.02)
    assert sent == [[("q", "m1", False), ("q", "m1", True)]]
    arrived.clear()
    batch.add(event("q", "m2", final=False))
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.wait_for(arrived.wait(), 5)
    assert sent[1] == [("q", "m2", False)]  # alone, it still leaves after the wait
    assert 0.15 < loop.time() - began < 4
    batch.add(event("q", "m3", final=False))
    await batch.drain(1)  # closing: a waiting change goes at once
    assert sent[2] == [("q", "m3", False)]


async def test_a_failed_publish_drops_its_batch_and_the_next_events_still_go() -> None:
    sent: list[list[tuple[str, str, bool]]] = []

    async def send(body: bytes) -> None:
        events = decode(body)
        if events[0][1] == "lost":
            raise ConnectionError("broker gone")
        sent.append(events)

    batch = EventBatch(send)
    batch.add(event("q", "lost", final=True))
    await batch.drain(1)
    batch.add(event("q", "kept", final=True))
    await batch.drain(1)
    assert sent == [[("q", "kept", True)]]
