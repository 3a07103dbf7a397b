"""The consumer's own ``--metrics-port`` server on a real ``conveyor consumer`` process (the
gateway's /metrics: tests/api/test_metrics.py)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.brokers import RabbitNode
from tests.support.metrics import assert_standard_series, parse, value
from tests.support.paths import QUEUES_DIR
from tests.support.processes import clean_env
from tests.support.services import delete_rabbit_queues, queue_prefix
from tests.support.sockets import free_port
from tests.support.waiting import wait_until_sync


def test_consumer_process_serves_metrics_port(tmp_path: Path, rabbitmq: RabbitNode) -> None:
    # A consumer needs a broker (in-process delivery is `serve`'s): the shared one, under a
    # queue prefix of this test's own, deleted at the end.
    port, prefix = free_port(), queue_prefix("ptest")
    log_path = tmp_path / "consumer.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "conveyor", "consumer", "--metrics-port", str(port)],
            env=clean_env(
                CONVEYOR_STORE=f"sqlite:///{tmp_path / 'c.db'}",
                CONVEYOR_HANDLERS=str(QUEUES_DIR),
                CONVEYOR_BROKER=rabbitmq.url,
                CONVEYOR_QUEUE_PREFIX=prefix,
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:

            def scraped() -> tuple[int, str] | None:
                assert proc.poll() is None, log_path.read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as r:
                        return r.status, r.read().decode()
                except OSError:
                    return None

            status, text = wait_until_sync(
                scraped, f"the consumer's metrics on :{port}", 30, detail=log_path.read_text
            )
            assert status == 200
            samples = parse(text)
            assert value(samples, "conveyor_queue_depth", queue="echo") == 0
            assert_standard_series(samples)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert (r.status, json.loads(r.read())) == (200, {"status": "ok"})
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                ready = json.loads(r.read())
                assert r.status == 200 and ready["status"] == "ready", ready
                assert "echo" in ready["queues"], ready
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            names = [p.name.removesuffix(".queue.json") for p in QUEUES_DIR.glob("*.queue.json")]
            asyncio.run(delete_rabbit_queues(rabbitmq.url, prefix, names))
