"""Property-based fuzzing of the live HTTP API against its own ``/openapi.json`` (schemathesis),
in both modes: every operation, with valid and invalid inputs, must answer without a 5xx and
as the document says (status code, content type, response schema).

Schemathesis calls over real HTTP with ``requests`` (blocking), so the cases run in a worker
thread while the test's event loop serves them. Examples per operation are few (this guards
against regressions; it is no exhaustive search) and hypothesis keeps no example database.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conveyor.serve import Served
from shared.service import waiting
from tests.support.api_client import Api, StartConveyor
from tests.support.queues import add_queue

#: Examples per operation: valid inputs, and inputs the document says are invalid.
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 15, schemathesis.GenerationMode.NEGATIVE: 10}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: The queues fuzzed: ``typed`` (roles, a strict schema with a recursive part) and the test
#: queue ``open`` (auth off). Every other queue's operations run the same code.
FUZZED = ("typed", "open")
TYPED_SCHEMA = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {"child": {"$ref": "#/$defs/node"}, "n": {"type": "integer"}},
            "additionalProperties": False,
        }
    },
    "type": "object",
    "properties": {
        "sku": {"type": "string", "minLength": 1, "maxLength": 20},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 1000},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "tree": {"$ref": "#/$defs/node"},
    },
    "required": ["sku", "quantity"],
    "additionalProperties": False,
}


def fuzz_queues(queues_dir: Path) -> None:
    """Only the :data:`FUZZED` queues (some test handlers act on their message: sleep,
    write files, kill the process)."""
    add_queue(queues_dir, "typed", schema=TYPED_SCHEMA, roles={"roles": ["tester"]})
    for path in queues_dir.glob("*.queue.json"):
        name = path.name.removesuffix(".queue.json")
        if name not in FUZZED:
            path.unlink()
            (queues_dir / f"{name}.py").unlink()


def describe(exc: BaseException) -> str:
    """``exc`` with the notes schemathesis adds (how to reproduce) and any sub-exceptions
    (a FailureGroup's own text already lists its failures)."""
    text = "".join(traceback.format_exception_only(exc))
    subs = () if isinstance(exc, FailureGroup) else getattr(exc, "exceptions", ())
    for sub in subs:
        text += "\n  " + describe(sub).replace("\n", "\n  ")
    return text


def fuzz(document: dict[str, Any], base_url: str, headers: dict[str, str]) -> list[str]:
    """Run every operation's cases; a description of each failure (empty: none)."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    session = requests.Session()
    for result in schema.get_all_operations():
        if isinstance(result, Err):  # the document must be usable as a whole
            failures.append(f"unusable operation: {result.err()}")
            continue
        operation = result.ok()
        for mode in schemathesis.GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES[mode],
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case[Any]) -> None:
                response = case.call(base_url=base_url, session=session, headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                check()
            except Unsatisfiable:  # nothing in this operation can be made invalid
                continue
            except (Exception, BaseExceptionGroup) as exc:  # schemathesis's FailureGroup is Base
                failures.append(f"{operation.label} ({mode.value}): {describe(exc)}")
    session.close()
    return failures


# Hypothesis warns when the global ``random`` state moves while it draws a case; here the
# server's event loop (pymongo's server selection, the consumer's retry jitter) moves it from
# another thread, which says nothing about the strategies.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
async def test_the_live_api_conforms_to_its_openapi_document(
    queues_dir: Path,
    start_conveyor: StartConveyor,
    api_for: Callable[[Served], Api],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fuzz_queues(queues_dir)
    # A push with ?wait=N and a ?delay= past it waits the whole N (up to 60 s) per case: waits
    # are cut to a moment (the answer is the same shape: the record as it is then).
    original = waiting.wait_for_final

    async def brief(notifier: Any, message_id: str, read: Any, seconds: float) -> Any:
        return await original(notifier, message_id, read, min(seconds, 0.2))

    monkeypatch.setattr(waiting, "wait_for_final", brief)
    # Event streams (GET /{queue}/{id}/events) are bounded, should a case ever open one.
    served = await start_conveyor(events_max_seconds=2.0, events_heartbeat_seconds=1.0)
    api = api_for(served)
    headers = api.auth(api.keys.token(["system_admin", "tester"], ttl=3600))
    resp = await api.session.get(f"{served.url}/openapi.json", headers=headers)
    assert resp.status == 200, await resp.text()
    document = await resp.json()
    failures = await asyncio.to_thread(fuzz, document, served.url, headers)
    assert not failures, "\n\n".join(failures)
