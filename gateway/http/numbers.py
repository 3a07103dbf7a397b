"""The numbers clients send in query parameters and headers: plain decimals only.

Every number the gateway reads from a request (``?delay=``, ``?wait=``, ``?limit=``,
``Last-Event-ID``, and, after an optional ``-``, an integer field's ``?where=`` value:
``gateway.http.where``) is parsed here, against one grammar, never by ``float``/``int`` alone
(which take ``1_000``, ``1e308``, ``inf``, `` 5``, Arabic-Indic digits and thousands of
digits):

- a decimal: ``[0-9]{1,15}(\\.[0-9]{1,6})?`` (at most 15 digits, then up to 6 decimals);
- an integer: ``[0-9]{1,15}``.

ASCII digits only, the whole value (no sign, exponent, space or underscore). Anything else
is ``400``, naming the parameter and quoting at most :data:`SHOWN_CHARS` characters of the
value. Each caller checks its own range afterwards.
"""

from __future__ import annotations

import re

from gateway.http.errors import ApiError

DECIMAL = re.compile(r"[0-9]{1,15}(\.[0-9]{1,6})?", re.ASCII)
INTEGER = re.compile(r"[0-9]{1,15}", re.ASCII)
#: How much of a refused value an error message quotes.
SHOWN_CHARS = 32


def shown(raw: str) -> str:
    """``raw`` quoted for an error message, cut to :data:`SHOWN_CHARS` characters."""
    cut = raw[:SHOWN_CHARS] + ("…" if len(raw) > SHOWN_CHARS else "")
    return repr(cut)


def decimal(name: str, raw: str) -> float:
    """``raw`` (the value of ``name``) as a number; 400 unless it is a plain decimal."""
    if DECIMAL.fullmatch(raw) is None:
        raise ApiError(
            400,
            f"{name} must be a plain decimal number (up to 15 digits, optionally '.' and up to "
            f"6 more), not {shown(raw)}",
        )
    return float(raw)


def integer(name: str, raw: str) -> int:
    """``raw`` (the value of ``name``) as an integer; 400 unless it is 1 to 15 digits."""
    if INTEGER.fullmatch(raw) is None:
        raise ApiError(400, f"{name} must be a plain integer (1 to 15 digits), not {shown(raw)}")
    return int(raw)
