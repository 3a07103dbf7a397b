"""Hot reload's merge (``shared.queues.reload``): queues whose files did not change stay the
same objects."""

from __future__ import annotations

from pathlib import Path

from shared.queues.registry import Registry, load_registry
from shared.queues.reload import merge


def test_merge_keeps_untouched_queues_as_the_same_objects(queues_dir: Path) -> None:
    """A reload replaces only what changed: untouched queues keep their very objects."""
    current = load_registry(queues_dir, with_handlers=True)
    loaded = load_registry(queues_dir, with_handlers=True)
    present = {p.name.removesuffix(".queue.json") for p in queues_dir.glob("*.queue.json")}
    merged, report = merge(current, loaded, present, {"echo"}, queues_dir)
    assert report.changed == ["echo"] and not (report.added or report.removed or report.kept)
    assert merged.queues["echo"] is loaded.queues["echo"]
    assert merged.queues["slow"] is current.queues["slow"]
    merged, report = merge(current, Registry(), present - {"slow"}, set(), queues_dir)
    assert report.removed == ["slow"]
    assert sorted(report.kept) == sorted(present - {"slow"})
    assert "slow" not in merged.queues and merged.queues["echo"] is current.queues["echo"]
