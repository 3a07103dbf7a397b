"""``where`` terms (``field:value``) typed by the schema's indexed fields."""

from __future__ import annotations

import pytest

from gateway.http.where import MAX_TERMS, WhereError, parse_term, parse_where
from shared.ports import FieldMatch
from shared.queues.indexed_fields import FieldKind

INDEXED = {"customer": FieldKind.STRING, "n": FieldKind.INTEGER, "urgent": FieldKind.BOOLEAN}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("customer:acme", FieldMatch("customer", "acme")),
        ("customer:", FieldMatch("customer", "")),
        ("customer:a:b", FieldMatch("customer", "a:b")),
        ("customer:true", FieldMatch("customer", "true")),
        ("customer:12", FieldMatch("customer", "12")),
        ("n:42", FieldMatch("n", 42)),
        ("n:-7", FieldMatch("n", -7)),
        ("n:0", FieldMatch("n", 0)),
        ("n:999999999999999", FieldMatch("n", 999999999999999)),
        ("urgent:true", FieldMatch("urgent", True)),
        ("urgent:false", FieldMatch("urgent", False)),
    ],
)
def test_values_are_typed_per_the_schema(raw: str, expected: FieldMatch) -> None:
    term = parse_term(raw, INDEXED)
    assert term == expected
    assert type(term.value) is type(expected.value)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("customer", "field:value"),
        (":acme", "field:value"),
        ("", "field:value"),
        ("nope:1", "'nope': not an indexed field of this queue (indexed: customer, n, urgent)"),
        ("Customer:x", "'Customer'"),
        ("n:1.5", "where n: must be a plain integer"),
        ("n:1e3", "where n"),
        ("n:+1", "where n"),
        ("n:--1", "where n"),
        ("n:", "where n"),
        ("n: 1", "where n"),
        ("n:1_000", "where n"),
        ("n:٣", "where n"),
        ("n:1234567890123456", "where n"),
        ("urgent:True", "where urgent: must be true or false"),
        ("urgent:1", "where urgent"),
    ],
)
def test_malformed_or_unknown_terms_are_refused_naming_them(raw: str, says: str) -> None:
    with pytest.raises(WhereError) as caught:
        parse_term(raw, INDEXED)
    assert says in str(caught.value)


def test_a_queue_without_indexed_fields_says_so() -> None:
    with pytest.raises(WhereError, match=r"indexed: none"):
        parse_term("a:b", {})


def test_terms_are_all_kept_and_bounded() -> None:
    assert parse_where(["customer:a", "n:1"], INDEXED) == (
        FieldMatch("customer", "a"),
        FieldMatch("n", 1),
    )
    assert parse_where([], INDEXED) == ()
    with pytest.raises(WhereError, match=f"at most {MAX_TERMS}"):
        parse_where(["n:1"] * (MAX_TERMS + 1), INDEXED)
