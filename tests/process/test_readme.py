"""The documentation's examples run as written: the README's tour, the walkthrough and its
API examples (docs/walkthrough.md), and the handler test of docs/queues-and-handlers.md.

The shell blocks are run by bash (``-e -u -o pipefail``) against a real ``conveyor serve``
started the way a pip user would: ``conveyor init handlers`` in an empty directory, then
``serve`` there. The only change made to the blocks is the port (a free one, not 8080).
The handler test shown is ``tests/test_handler_example.py``, which the suite runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.paths import REPO, TESTS
from tests.support.processes import clean_env, conveyor
from tests.support.serve import ServeProcess

README = REPO / "README.md"
WALKTHROUGH = REPO / "docs" / "walkthrough.md"
HANDLERS_GUIDE = REPO / "docs" / "queues-and-handlers.md"


def code_block(document: Path, after: str, language: str = "sh") -> str:
    """The first ```language block of ``document`` after the text ``after``."""
    text = document.read_text()
    rest = text[text.index(after) :]
    fence = f"```{language}\n"
    block = rest[rest.index(fence) + len(fence) :]
    return block[: block.index("```")]


def shell_block(document: Path, after: str) -> str:
    """The first ```sh block of ``document`` after the text ``after``."""
    return code_block(document, after)


def test_the_handler_test_example_is_the_one_the_suite_runs() -> None:
    example = TESTS / "test_handler_example.py"  # where the guide's layout puts it
    assert code_block(HANDLERS_GUIDE, "## Testing a handler", "python") == example.read_text()


@pytest.mark.slow
def test_walkthrough_and_api_examples_run_as_written(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is needed to run the documentation's examples"
    assert conveyor("init", "handlers", cwd=tmp_path).returncode == 0
    # `source .venv/bin/activate`: this test's own environment stands in for the reader's.
    (tmp_path / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    assert (tmp_path / ".venv" / "bin" / "activate").is_file(), "run the tests in a venv"
    env = clean_env(
        CONVEYOR_STORE=f"sqlite:///{tmp_path / 'conveyor.db'}",
        CONVEYOR_HANDLERS=str(tmp_path / "handlers"),
    )
    proc = ServeProcess([], env, tmp_path / "serve.log")
    try:
        proc.wait_healthy()
        script = "\n".join(
            [
                shell_block(README, "## A five-minute tour"),
                shell_block(WALKTHROUGH, "## Push, read, refuse, delete"),
                'TOKEN=$(conveyor token --roles system_admin) && H="Authorization: Bearer $TOKEN"',
                shell_block(WALKTHROUGH, "Examples (after the walkthrough"),
            ]
        ).replace("localhost:8080", f"localhost:{proc.port}")
        done = subprocess.run(
            ["bash", "-e", "-u", "-o", "pipefail", "-c", script],
            cwd=tmp_path,
            env={**env, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        proc.close()
    out = done.stdout
    assert done.returncode == 0, f"{done.stderr}\n{out}\n{proc.log()}"
    for expected in (
        '"status":"COMPLETE","request":{"hello":"there"},"result":{"result":"value"}',  # the tour
        "HTTP/1.1 201 Created",  # the walkthrough's first push, and its record
        '"request":{"hello":"there","world":"yes"}',
        '"status":"COMPLETE","request":{"hello":"there","world":"yes"},"result":{"result":"value"}',
        "Additional properties are not allowed ('extra' was unexpected)",
        "HTTP/1.1 401 Unauthorized",
        "HTTP/1.1 403 Forbidden",
        "HTTP/1.1 204 No Content",
        "HTTP/1.1 404 Not Found",
        '"error":{"type":"OutOfStock","message":"no stock of \'kiwi\'"}',
        "orders   orders_writer, queue_writer, shop, system_admin, system_writer  ok      ok",
        '"sku":"apple","quantity":2,"total":60',  # the HTTP API section's order
        '"status":"PENDING","request":{"sku":"kiwi","quantity":1}',  # redriven
        '{"items":[{"status":201,',  # the batch
        '"name":"orders"',  # /queues
        "conveyor_http_request_duration_seconds_count",  # /metrics
    ):
        assert expected in out, f"{expected!r} not in the output:\n{out}\n{done.stderr}"
    assert "HTTP/1.1 500" not in out
    # The one traceback is the walkthrough's failing order's, logged with its run's end (an
    # ERROR line naming the handler's exception); nothing else may log one.
    log_lines = proc.log().splitlines()
    tracebacks = [i for i, line in enumerate(log_lines) if "Traceback" in line]
    assert all("outcome=ERROR" in log_lines[i - 1] for i in tracebacks), proc.log()
