"""``shared.domain.tracebacks.keep_tail``: what of a traceback a record keeps (its end, at most
16 KiB of UTF-8, cut at a line boundary behind a marker)."""

from __future__ import annotations

from shared.domain.tracebacks import CUT_MARKER, TRACEBACK_LIMIT, keep_tail


def size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def test_a_traceback_within_the_limit_is_kept_whole() -> None:
    text = "Traceback (most recent call last):\n" + "x" * (TRACEBACK_LIMIT - 100) + "\nE: 1\n"
    assert keep_tail(text) == text


def test_a_long_traceback_keeps_its_end_from_a_line_boundary() -> None:
    lines = [f'  File "h.py", line {n}, in f{n}\n' for n in range(2000)]
    text = "Traceback (most recent call last):\n" + "".join(lines) + "KeyError: 'k'\n"
    kept = keep_tail(text)
    assert size(kept) <= TRACEBACK_LIMIT
    assert size(kept) > TRACEBACK_LIMIT - 100  # close to the limit: only whole lines lost
    assert kept.startswith(CUT_MARKER)
    assert kept.endswith("KeyError: 'k'\n")
    body = kept.removeprefix(CUT_MARKER)
    assert body.startswith('  File "h.py", line ') and text.endswith(body)


def test_multibyte_characters_count_as_bytes() -> None:
    text = "".join(f"☃ line {n} ☃\n" for n in range(3000))  # ☃ is 3 bytes
    assert len(text) < 4 * TRACEBACK_LIMIT and size(text) > TRACEBACK_LIMIT
    kept = keep_tail(text)
    assert size(kept) <= TRACEBACK_LIMIT and kept.startswith(CUT_MARKER + "☃ line ")


def test_a_last_line_longer_than_the_limit_keeps_its_end() -> None:
    text = "Traceback (most recent call last):\nValueError: " + "é\ud800" * 20_000 + " end\n"
    kept = keep_tail(text)
    assert size(kept) <= TRACEBACK_LIMIT and size(kept) > TRACEBACK_LIMIT - 4
    assert kept.startswith(CUT_MARKER) and kept.endswith("é\ud800 end\n")
