"""The values ``ctx.progress(fraction, note=None)`` accepts: the domain rule, which
``consumer.progress`` (the same concept in the consumer: writing the reports) applies."""

from __future__ import annotations

import math

#: The longest ``note`` kept, in characters (longer ones are cut).
MAX_NOTE_CHARS = 200


def checked(fraction: float, note: str | None) -> tuple[float, str | None]:
    """``(fraction, note)`` as stored: a ValueError unless ``fraction`` is a number from 0 to
    1 and ``note`` a string or None; a long note is cut to :data:`MAX_NOTE_CHARS`."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise ValueError(f"progress fraction must be a number from 0 to 1, not {fraction!r}")
    value = float(fraction)
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"progress fraction must be from 0 to 1, not {fraction!r}")
    if note is not None and not isinstance(note, str):
        raise ValueError(f"progress note must be a string or None, not {type(note).__name__}")
    return value, note[:MAX_NOTE_CHARS] if note is not None else None
