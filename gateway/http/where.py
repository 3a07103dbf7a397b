"""``where`` terms: ``field:value``, a search on an indexed field of message bodies.

``GET /{queue}?where=field:value`` (repeatable: every term must match) and the bulk actions'
``"where": ["field:value", ...]`` use this grammar. ``field`` is the text before the first
``:``; it must be one the queue's schema marks ``"x-conveyor-index": true``
(``shared.queues.indexed_fields``). ``value`` is everything after it, typed as the schema
declares the field:

- ``string``: taken as is (empty included; a later ``:`` belongs to the value);
- ``integer``: the gateway's integer grammar (``gateway.http.numbers``: 1 to 15 ASCII
  digits), optionally after one ``-``;
- ``boolean``: ``true`` or ``false``.

Anything else, an unknown or unindexed field, or more than :data:`MAX_TERMS` terms is a
:class:`WhereError` whose text names the term; the listing answers it ``400``, a bulk
request lists it among its ``422`` problems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.http.numbers import INTEGER, shown
from shared.ports import FieldMatch
from shared.queues.indexed_fields import FieldKind

#: The most terms one request may give.
MAX_TERMS = 8


class WhereError(ValueError):
    """A ``where`` term that cannot be used; ``str()`` says why, naming it."""


def _value(field: str, kind: FieldKind, raw: str) -> str | int | bool:
    if kind is FieldKind.STRING:
        return raw
    if kind is FieldKind.BOOLEAN:
        if raw not in ("true", "false"):
            raise WhereError(f"where {field}: must be true or false, not {shown(raw)}")
        return raw == "true"
    if INTEGER.fullmatch(raw.removeprefix("-")) is None:
        raise WhereError(
            f"where {field}: must be a plain integer (1 to 15 digits, optionally after '-'), "
            f"not {shown(raw)}"
        )
    return int(raw)


def parse_term(raw: str, indexed: Mapping[str, FieldKind]) -> FieldMatch:
    """One ``field:value`` term against the queue's ``indexed`` fields; WhereError."""
    field, colon, value = raw.partition(":")
    if not colon or not field:
        raise WhereError(f"where must be field:value, not {shown(raw)}")
    kind = indexed.get(field)
    if kind is None:
        known = ", ".join(indexed) or "none"
        raise WhereError(
            f"where {shown(field)}: not an indexed field of this queue (indexed: {known})"
        )
    return FieldMatch(field, _value(field, kind, value))


def parse_where(raws: Sequence[str], indexed: Mapping[str, FieldKind]) -> tuple[FieldMatch, ...]:
    """Every term of ``raws`` (see the module docstring); WhereError for the first bad one."""
    if len(raws) > MAX_TERMS:
        raise WhereError(f"where: at most {MAX_TERMS} terms, not {len(raws)}")
    return tuple(parse_term(raw, indexed) for raw in raws)
