"""How much of a failed attempt's traceback a record keeps (``error.traceback``).

A record keeps the *end* of the formatted traceback, where the exception was raised: at most
:data:`TRACEBACK_LIMIT` bytes of UTF-8. A longer one loses its beginning at a line boundary
and starts with :data:`CUT_MARKER` instead; only when its last line alone is longer than the
limit is that line cut inside (its end kept).
"""

from __future__ import annotations

#: The most a record's ``error.traceback`` holds, in bytes of UTF-8 (marker included).
TRACEBACK_LIMIT = 16 * 1024
#: The first line of a traceback whose beginning was cut off.
CUT_MARKER = "…(cut)\n"


def _size(text: str) -> int:
    # surrogatepass: an exception message may hold lone surrogates; they still count.
    return len(text.encode("utf-8", "surrogatepass"))


def _char_tail(text: str, budget: int) -> str:
    """The longest end of ``text`` within ``budget`` bytes."""
    tail = text[-budget:]
    while (excess := _size(tail) - budget) > 0:
        tail = tail[max(1, excess // 4) :]  # 1 to 4 bytes a character: never too many
    return tail


def keep_tail(text: str, limit: int = TRACEBACK_LIMIT) -> str:
    """``text`` if it fits in ``limit`` bytes; else :data:`CUT_MARKER` and the whole lines
    of its end that fit with it (see the module docstring)."""
    if len(text) * 4 <= limit or _size(text) <= limit:  # a character is at most 4 bytes
        return text
    budget = limit - _size(CUT_MARKER)
    lines = text.split("\n")
    start, used = len(lines), 0
    while start > 0 and used + _size(lines[start - 1]) + 1 <= budget:
        start -= 1
        used += _size(lines[start]) + 1
    kept = "\n".join(lines[start:])
    if not kept.strip():  # not even the last line fits whole
        kept = _char_tail(text, budget)
    return CUT_MARKER + kept
