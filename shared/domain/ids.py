"""Random ids for the hot path: message ids (UUID version 4) and request ids.

``uuid.uuid4()`` asks the kernel for 16 bytes on every call (``os.urandom``), and that system
call releases the GIL: on a busy gateway the event loop then waits to take it back from the
store's thread, once per id, twice per push. Here one ``os.urandom`` call serves
:data:`POOL_IDS` ids (see bench/README.md). The bytes are the same kernel randomness, so the
ids are exactly as unpredictable as ``uuid4``'s; each byte is handed out once, and a forked
child starts with an empty pool (it never repeats its parent's ids).
"""

from __future__ import annotations

import os
import threading

#: Ids served by one ``os.urandom`` call.
POOL_IDS = 256
_ID_BYTES = 16

_pool = bytearray()
_lock = threading.Lock()


def _forget_pool() -> None:
    _pool.clear()


os.register_at_fork(after_in_child=_forget_pool)


def random_bytes16() -> bytearray:
    """16 fresh random bytes from the kernel's generator (thread-safe)."""
    with _lock:
        if len(_pool) < _ID_BYTES:
            _pool.extend(os.urandom(_ID_BYTES * POOL_IDS))
        chunk = _pool[:_ID_BYTES]
        del _pool[:_ID_BYTES]  # deleting from the front of a bytearray is O(1)
    return chunk


def uuid4_text() -> str:
    """A random UUID (version 4, RFC 4122 variant) in canonical text form, as
    ``str(uuid.uuid4())`` gives."""
    raw = random_bytes16()
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def random_hex() -> str:
    """32 random hexadecimal digits (a request id)."""
    return random_bytes16().hex()
