"""Prometheus text as samples the tests can look up."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.api_client import Api

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample as ``{(name, sorted labels): value}``."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def label_names(samples: Samples, name: str) -> set[tuple[str, ...]]:
    """The label name sets the samples called ``name`` carry."""
    return {tuple(k for k, _ in labels) for sample, labels in samples if sample == name}


def assert_standard_series(samples: Samples) -> None:
    """The client library's process and Python collectors are there; no ``_created``."""
    names = {sample for sample, _ in samples}
    for expected in (
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
        "process_open_fds",
        "python_gc_objects_collected_total",
        "python_gc_collections_total",
    ):
        assert expected in names, expected
    info = [dict(labels) for sample, labels in samples if sample == "python_info"]
    assert info and info[0]["implementation"] == "CPython", info
    assert not [n for n in names if n.endswith("_created")], sorted(names)


async def scrape(api: Api) -> Samples:
    """Every series, as a token with ``system_reader`` sees them."""
    resp = await api.get("/metrics", api.keys.token(["system_reader"]))
    assert resp.status == 200, await resp.text()
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(await resp.text())
