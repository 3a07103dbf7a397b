"""Fixtures of the process tests: ``spawn`` starts ``conveyor serve`` child processes;
``cluster`` starts gateways and consumers on the MongoDB wire server and RabbitMQ."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.brokers import RabbitNode
from tests.support.cluster import Cluster, cluster_of
from tests.support.processes import clean_env
from tests.support.serve import SECRET, ServeProcess, Spawn
from tests.support.services import queue_prefix


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    """Start ``conveyor serve`` processes (healthy before returned); all killed at the end."""
    started: list[ServeProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ServeProcess:
        proc = ServeProcess(
            args,
            env if env is not None else clean_env(CONVEYOR_JWT_SECRET=SECRET),
            tmp_path / f"serve-{len(started)}.log",
        )
        started.append(proc)
        proc.wait_healthy()
        return proc

    yield start
    for proc in started:
        proc.close()


@pytest.fixture
def cluster(
    tmp_path: Path, queues_dir: Path, mongo_url: str, rabbitmq: RabbitNode
) -> Iterator[Cluster]:
    broker = rabbitmq.url
    prefix = queue_prefix("ptest")
    flags = [
        "--broker",
        broker,
        "--store",
        mongo_url,
        "--mongo-database",
        f"p_{uuid.uuid4().hex[:10]}",
        "--queue-prefix",
        prefix,
        "--handlers",
        str(queues_dir),
        "--lease-seconds",
        "3",
        "--republish-after-seconds",
        "2",
        "--delivery-limit",
        "2",
    ]
    with cluster_of(tmp_path, flags, prefix, rabbitmq, queues_dir) as made:
        yield made
