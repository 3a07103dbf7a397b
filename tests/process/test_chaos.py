"""The chaos harness's short version (``python -m tests.process.chaos --short``), in CI.

A real gateway and three consumers on a private RabbitMQ node and the MongoDB wire server,
300 messages pushed at 5/s while consumers are killed with ``kill -9`` every 3 s and the
broker, the store and the gateway each go down once; the harness's verdict must hold:
nothing lost, nothing stuck, no message run by two consumers at once, no answer but 201/503.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO
from tests.support.services import unavailable

pytestmark = [pytest.mark.distributed, pytest.mark.slow]
UNAVAILABLE = 3  # tests.process.chaos.__main__.UNAVAILABLE
ROOT = REPO


def run_harness(tmp_path: Path, *flags: str) -> dict[str, Any]:
    """Run the harness as a process; its JSON verdict (skip/fail if a service is missing)."""
    out = tmp_path / "verdict.json"
    command = [sys.executable, "-m", "tests.process.chaos", "--short", "--json", str(out), *flags]
    done = subprocess.run(
        [*command, "--workdir", str(tmp_path / "run")],
        cwd=ROOT,  # where ``tests`` is a package
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    if done.returncode == UNAVAILABLE:
        unavailable(done.stderr.strip())
    report = f"{done.stdout}\n{done.stderr[-4000:]}"
    assert out.exists(), report
    verdict: dict[str, Any] = json.loads(out.read_text())["verdict"]
    assert done.returncode == (1 if verdict["failures"] else 0), report
    return verdict | {"report": report}


@pytest.mark.timeout(300)
def test_the_short_chaos_run_keeps_every_accepted_message(tmp_path: Path) -> None:
    verdict = run_harness(tmp_path)
    report = verdict["report"]
    assert verdict["failures"] == [], report
    assert verdict["accepted"] > 0 and verdict["pushed"] == 300, report
    assert verdict["lost"] == [] and verdict["stuck"] == [], report
    assert verdict["concurrent"] == [], report
    assert verdict["complete"] + verdict["error"] == verdict["accepted"], report
    kinds = {row["kind"] for row in verdict["faults"]}
    # Every fault was really injected, and the service came back after each outage.
    assert kinds == {"consumer kill -9", "rabbitmq stop_app", "store stopped", "gateway kill -9"}
    for row in verdict["faults"]:
        if row["kind"] != "consumer kill -9":
            assert row["push_recovered_after"] is not None, report
    assert verdict["consumer_exits"].get("killed by the harness", 0) >= 5, report
