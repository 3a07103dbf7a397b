"""The marker queue's name and arguments, and the refusal line read from a 406 reply."""

from __future__ import annotations

from shared.adapters.rabbitmq.identity import bound_to, marker_arguments, marker_queue, refusal
from shared.queues.definitions import NAME_RE

# RabbitMQ 3.10.8's reply text, as measured (a changed and a missing argument).
CHANGED = (
    "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue "
    "'p._identity' in vhost '/': received 'conveyor-store.bbb' but current is "
    "'conveyor-store.0a1f'"
)
MISSING = (
    "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue "
    "'p._identity' in vhost '/': received none but current is the value "
    "'conveyor-store.0a1f' of type 'longstr'"
)


def test_the_marker_never_clashes_with_a_queue_definitions_queue() -> None:
    name = marker_queue("conveyor.")
    assert name == "conveyor._identity"
    assert not NAME_RE.match(name.removeprefix("conveyor."))


def test_the_store_id_travels_in_an_argument_rabbitmq_compares() -> None:
    assert marker_arguments("abc") == {
        "x-queue-type": "classic",
        "x-dead-letter-exchange": "conveyor-store.abc",
    }


def test_the_holder_is_read_from_the_reply() -> None:
    assert bound_to(CHANGED) == "0a1f"
    assert bound_to(MISSING) == "0a1f"
    assert bound_to("PRECONDITION_FAILED - something else") is None


def test_the_refusal_names_the_flag_and_the_way_through() -> None:
    line = refusal("p.", "mine", "0a1f")
    assert "'p.' (--queue-prefix) is bound to store 0a1f" in line
    assert "(mine)" in line and "conveyor release-prefix" in line and "\n" not in line
    assert "another store" in refusal("p.", "mine", None)
