"""The seed's example end to end in each mode."""

from __future__ import annotations

from tests.conftest import Api


async def test_push_and_complete(api: Api) -> None:
    token = api.keys.token(["tester"])
    message_id = await api.push("echo", {"hello": "there"}, token)
    record = await api.wait_final("echo", message_id, token)
    assert record["status"] == "COMPLETE"
    assert record["result"]["echo"] == {"hello": "there"}
    assert record["attempts"] == 1
