"""``shared.domain.ids``: pooled kernel randomness gives well-formed, distinct ids, also across a
fork (a child never repeats its parent's pool)."""

from __future__ import annotations

import os
import uuid

from shared.domain.ids import POOL_IDS, random_hex, uuid4_text


def test_message_ids_are_canonical_version_4_uuids_and_distinct() -> None:
    ids = [uuid4_text() for _ in range(5 * POOL_IDS + 3)]  # several pool refills
    assert len(set(ids)) == len(ids)
    for text in ids[: POOL_IDS + 5]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    hexes = {random_hex() for _ in range(1000)}
    assert len(hexes) == 1000 and all(len(h) == 32 and int(h, 16) >= 0 for h in hexes)


def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    uuid4_text()  # the pool now holds bytes the child would inherit
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        os.close(read)
        os.write(write, uuid4_text().encode())
        os._exit(0)
    os.close(write)
    child_id = os.read(read, 100).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent_ids = {uuid4_text() for _ in range(POOL_IDS)}
    assert uuid.UUID(child_id).version == 4
    assert child_id not in parent_ids
