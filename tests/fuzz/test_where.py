"""Property-based tests (hypothesis) of ``where`` terms (``gateway.http.where``): whatever a
client sends, parsing answers a term typed as the schema declares its field, or fails with a
WhereError (a 400 naming it), never anything else."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.http.where import WhereError, parse_term
from shared.queues.indexed_fields import FieldKind

FUZZ = settings(max_examples=300, deadline=None, database=None)
INDEXED = {"s": FieldKind.STRING, "n": FieldKind.INTEGER, "b": FieldKind.BOOLEAN}
TYPES = {FieldKind.STRING: str, FieldKind.INTEGER: int, FieldKind.BOOLEAN: bool}

values = st.text(max_size=40) | st.integers().map(str) | st.sampled_from(["true", "false", "-"])
terms = st.builds(
    lambda field, sep, value: field + sep + value,
    st.sampled_from(["s", "n", "b", "", "x", "S"]) | st.text(max_size=8),
    st.sampled_from([":", "", "::"]),
    values,
)


@FUZZ
@given(raw=terms)
def test_a_term_is_typed_or_refused(raw: str) -> None:
    try:
        term = parse_term(raw, INDEXED)
    except WhereError as exc:
        assert str(exc).startswith("where")
        return
    kind = INDEXED[term.field]
    assert type(term.value) is TYPES[kind]
    value = raw.partition(":")[2]
    if kind is FieldKind.INTEGER:
        assert isinstance(term.value, int) and term.value == int(value)
        assert abs(term.value) < 10**15
    elif kind is FieldKind.STRING:
        assert term.value == value
