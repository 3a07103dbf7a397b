"""Property-based tests (hypothesis) of the parsers a client reaches first: request bodies
(``shared.domain.payloads.parse_json``), listing cursors (``gateway.routes.listing.decode_cursor``)
and bearer tokens (``gateway.auth.queue_access.authenticate`` over
``gateway.auth.bearer.Authenticator``). Whatever they are given, each answers or fails only in its
documented way (unit tests: the request is aiohttp's mocked one; the HTTP behaviour is in
tests/api/test_hostile_input.py and tests/fuzz/test_api.py).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import json
import math
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.auth.bearer import (
    HMAC_ALGS,
    NUMERIC_DATE_CLAIMS,
    Authenticator,
    Principal,
    VerificationKey,
)
from gateway.auth.queue_access import AUTHENTICATOR, VERIFIED, authenticate
from gateway.auth.token_cache import VerifiedTokens
from gateway.http.errors import ApiError
from gateway.routes.listing import decode_cursor, encode_cursor
from shared.domain import payloads as validation
from shared.domain.message import MessageRecord
from shared.domain.payloads import (
    MAX_INT_DIGITS,
    BadJson,
    depth_exceeds,
    dumps,
    loads_stored,
    parse_json,
)

FUZZ = settings(max_examples=300, deadline=None, database=None)
SECRET = "fuzz-secret-" + "z" * 40

# --- JSON ---------------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)
#: Fragments that tend to break JSON parsers; joined at random into almost-JSON text.
FRAGMENTS = [
    "[", "]", "{", "}", ",", ":", '"a"', '"\\ud800"', '"\\udc00\\ud800"', '"\\u00e9"', "1", "-",
    "0.5", "1e999", "-1e999", "1e-999", "NaN", "Infinity", "-Infinity", "true", "null", " ",
    "9" * (MAX_INT_DIGITS + 1), "9" * MAX_INT_DIGITS, "\x00", "\\", '"', "é", "\udcff",
]  # fmt: skip
almost_json = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)
bodies = (
    st.binary(max_size=200)
    | almost_json.map(lambda text: text.encode("utf-8", "surrogatepass"))
    | json_values.map(lambda value: json.dumps(value).encode())
)


@FUZZ
@given(body=bodies, max_depth=st.integers(1, 70))
def test_parse_json_only_raises_bad_json(body: bytes, max_depth: int) -> None:
    try:
        value = parse_json(body, max_depth)
    except BadJson as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert not depth_exceeds(value, max_depth)
    dumps(value).encode("utf-8")  # what was accepted can be stored and answered


@FUZZ
@given(value=json_values)
def test_parse_json_reads_what_json_writes(value: Any) -> None:
    assert parse_json(json.dumps(value).encode(), 64) == value


@FUZZ
@given(value=json_values | st.integers(min_value=-(10**40), max_value=10**40))
def test_stored_json_reads_back_exactly_with_its_types(value: Any) -> None:
    """``loads_stored`` (orjson where exact) gives back what ``dumps`` stored: big integers stay
    integers (orjson alone would turn them into floats), lone surrogates survive."""
    back = loads_stored(dumps(value))
    assert back == value and json.dumps(back) == json.dumps(value)


@FUZZ
@given(levels=st.integers(0, 2000), max_depth=st.integers(1, 256), array=st.booleans())
def test_parse_json_refuses_exactly_what_is_nested_too_deeply(
    levels: int, max_depth: int, array: bool
) -> None:
    opening, closing = ("[", "]") if array else ('{"a":', "}")
    body = (opening * levels + "0" + closing * levels).encode()
    if levels <= max_depth:
        assert not depth_exceeds(parse_json(body, max_depth), max_depth)
    else:
        try:
            parse_json(body, max_depth)
        except BadJson as exc:
            assert str(exc) == f"JSON is nested deeper than {max_depth} levels"
        else:
            raise AssertionError(f"{levels} levels accepted with a limit of {max_depth}")


@FUZZ
@given(digits=st.integers(1, 2 * MAX_INT_DIGITS), sign=st.sampled_from(["", "-"]))
def test_parse_json_takes_integers_up_to_the_digit_limit(digits: int, sign: str) -> None:
    text = sign + "7" * digits
    try:
        value = parse_json(f'{{"n": {text}}}'.encode(), 64)
    except BadJson as exc:
        assert digits > MAX_INT_DIGITS and "integer too large" in str(exc)
    else:
        assert digits <= MAX_INT_DIGITS and value == {"n": int(text)}


# --- listing cursors ----------------------------------------------------------------------

offsets = st.integers(-1439, 1439).map(lambda minutes: timezone(timedelta(minutes=minutes)))
cursor_dates = st.datetimes(timezones=offsets).map(datetime.isoformat) | st.text(max_size=30)
cursor_ids = st.uuids().map(str) | st.text(max_size=40)
cursor_documents = json_values | st.fixed_dictionaries(
    {"created_at": cursor_dates | json_values, "id": cursor_ids | json_values}
)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


cursors = (
    st.text(max_size=60)
    | st.binary(max_size=60).map(b64)
    | cursor_documents.map(lambda doc: b64(json.dumps(doc).encode()))
    | st.integers(0, 6000).map(lambda n: b64(b"[" * n))
)


@FUZZ
@given(text=cursors)
def test_decode_cursor_only_raises_400(text: str) -> None:
    try:
        cursor = decode_cursor(text)
    except ApiError as exc:
        assert exc.status == 400
        return
    assert cursor.created_at.utcoffset() == timedelta(0)
    assert str(uuid.UUID(cursor.id)) == cursor.id


@FUZZ
@given(created_at=st.datetimes(timezones=st.just(UTC)))
def test_a_cursor_reads_back_its_record_position(created_at: datetime) -> None:
    record = dataclasses.replace(MessageRecord.new("q", {}), created_at=created_at)
    cursor = decode_cursor(encode_cursor(record))
    assert (cursor.created_at, cursor.id) == (created_at, record.id)


# --- bearer tokens ------------------------------------------------------------------------


def segment(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signed(header: Any, claims: Any) -> str:
    """A JWS with any header and claims, HS256-signed with the test secret."""
    head = f"{segment(json.dumps(header).encode())}.{segment(json.dumps(claims).encode())}"
    mac = hmac.new(SECRET.encode(), head.encode(), hashlib.sha256).digest()
    return f"{head}.{segment(mac)}"


now = int(time.time())
#: Time claims of every JSON type, including numeric strings of future times.
times = (
    st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.booleans()
    | json_values
    | st.integers(now + 60, now + 10**9).map(str)
)
optional_claims = {"nbf": times, "iat": times, "sub": json_values, "roles": json_values}
claim_sets = st.fixed_dictionaries({}, optional={"exp": times, **optional_claims})
#: Claims a validly signed token may carry: ``exp`` always, often a valid one.
signed_claims = st.fixed_dictionaries(
    {"exp": times | st.integers(now - 60, now + 3600)}, optional=optional_claims
)
GOOD_HEADER = {"alg": "HS256", "typ": "JWT"}
headers = st.fixed_dictionaries({"alg": st.sampled_from(["HS256", "none", "RS256"])}) | json_values
#: Header bytes as aiohttp hands them over (UTF-8, undecodable bytes as lone surrogates).
raw_headers = st.binary(max_size=80).map(lambda data: data.decode("utf-8", "surrogateescape"))
tokens = (
    raw_headers
    | st.text(max_size=80)
    | st.lists(st.binary(max_size=30).map(segment), min_size=1, max_size=4).map(".".join)
    | st.builds(signed, headers, claim_sets)
    | st.builds(signed, st.just(GOOD_HEADER), claim_sets)
)
header_values = tokens.map(lambda token: f"Bearer {token}") | raw_headers | tokens


@dataclasses.dataclass
class HeadersOnly:
    """What :func:`authenticate` reads of a request: its headers and its app. (aiohttp's
    ``make_mocked_request`` cannot hold the lone surrogates real header parsing produces.)"""

    headers: CIMultiDictProxy[str]
    app: web.Application


APP = web.Application()
APP[AUTHENTICATOR] = Authenticator([VerificationKey(SECRET, HMAC_ALGS)])
APP[VERIFIED] = VerifiedTokens(leeway=0)


async def authenticate_with(name: str, value: str) -> Principal:
    request = HeadersOnly(CIMultiDictProxy(CIMultiDict({name: value})), APP)
    return await authenticate(cast(web.Request, request))


def assert_numeric_dates(principal: Principal) -> None:
    """A principal's time claims are finite JSON numbers, and it has not expired."""
    for claim in NUMERIC_DATE_CLAIMS:
        if claim in principal.claims:
            number = principal.claims[claim]
            assert isinstance(number, int | float) and not isinstance(number, bool), claim
            assert math.isfinite(number)
    assert principal.claims["exp"] > time.time() - 60


def principal_or_401(name: str, value: str) -> Principal | None:
    """The principal ``value`` authenticates as in header ``name``, None for a 401."""
    try:
        return asyncio.run(authenticate_with(name, value))
    except ApiError as exc:
        assert exc.status == 401 and "WWW-Authenticate" in exc.headers
        assert exc.errors and all(isinstance(error, str) for error in exc.errors)
        return None


@FUZZ
@given(name=st.sampled_from(["Authorization", "x-access-token"]), value=header_values)
def test_any_token_header_is_a_principal_or_401(name: str, value: str) -> None:
    principal = principal_or_401(name, value)
    if principal is not None:
        assert_numeric_dates(principal)


@FUZZ
@given(claims=signed_claims)
def test_a_validly_signed_token_with_any_claims_is_a_principal_or_401(
    claims: dict[str, Any],
) -> None:
    principal = principal_or_401("Authorization", f"Bearer {signed(GOOD_HEADER, claims)}")
    if principal is not None:
        assert_numeric_dates(principal)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_the_fast_parser_agrees_with_the_standard_library(value: Any) -> None:
    """orjson's fast path gives exactly what the standard library's path gives."""
    body = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    try:
        expected = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return  # lone surrogates: not UTF-8, refused by both paths
    fast = validation._fast(body, 64)
    if fast is not None:
        assert fast == expected and type(fast) is type(expected)
        assert json.dumps(fast, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert parse_json(body, 64) == expected
