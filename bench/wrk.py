"""The load generator: Debian's ``wrk`` (C, epoll) driving POSTs through a generated Lua script.

:func:`run_wrk` sends ``POST path`` with a JSON body and one of a handful of bearer tokens in
turn, over ``connections`` keep-alive connections on ``threads`` threads, either for
``duration`` seconds or until ``quota`` responses arrived (each thread stops at its share;
requests already in flight on the other connections are still answered by the server, so
a store may hold a few more messages than the quota). It returns the counts, the rate and
wrk's latency percentiles; ``bad`` counts answers whose status is not ``expect``.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCRIPT = """
local tokens = {%(tokens)s}
local body = [==[%(body)s]==]
local path = [==[%(path)s]==]
local quota = %(quota)d
local expect = %(expect)d
local threads = {}
n, bad, counter = 0, 0, 0

function setup(thread)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local headers = {}
  headers["Authorization"] = "Bearer " .. tokens[(counter %% #tokens) + 1]
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, answer)
  n = n + 1
  if status ~= expect then bad = bad + 1 end
  if quota > 0 and n == quota then
    io.write("QUOTA\\n")
    io.flush()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local b, total = 0, 0
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    total = total + t:get("n")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"responses": %%d, "bad": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d,'
    .. ' "max_us": %%d, "socket_errors": %%d, "status_errors": %%d}\\n',
    total, b, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""


def available() -> bool:
    """Whether ``wrk`` is on PATH."""
    return shutil.which("wrk") is not None


def version() -> str:
    """wrk's version line (``wrk debian/4.1.0-3 [epoll] …``)."""
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0]


def run_wrk(
    base: str,
    path: str,
    tokens: Sequence[str],
    body: Any,
    *,
    duration: float | None = None,
    quota: int = 0,
    connections: int = 64,
    threads: int = 2,
    expect: int = 201,
) -> dict[str, Any]:
    """Drive ``POST base+path``; the summary (``rate`` = responses per second of the run)."""
    script = SCRIPT % {
        "tokens": ", ".join(f'"{t}"' for t in tokens),
        "body": json.dumps(body, separators=(",", ":")),
        "path": path,
        "quota": math.ceil(quota / threads) if quota else 0,
        "expect": expect,
    }
    seconds = duration if duration is not None else 3600
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{math.ceil(seconds)}s"]
    cmd += ["--timeout", "30s", "-s", handle.name, base]
    started = time.time()
    try:
        lines, ended = _run(cmd, threads if quota else 0, seconds + 60)
    finally:
        Path(handle.name).unlink()
    for line in lines:
        if line.startswith("BENCH "):
            result: dict[str, Any] = json.loads(line[6:])
            break
    else:
        raise RuntimeError("wrk printed no summary:\n" + "".join(lines))
    result["started"] = started
    elapsed = ended - started if quota else result["duration_us"] / 1e6
    result["rate"] = result["responses"] / elapsed
    return result


def _run(cmd: list[str], quota_threads: int, timeout: float) -> tuple[list[str], float]:
    """Run wrk; with ``quota_threads``, SIGINT it once that many threads met their quota
    (wrk then prints its summary at once instead of sleeping out ``-d``). The output lines
    and when the run ended (the last quota met, or wrk's exit)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    ended = 0.0
    met = 0
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            lines.append(line)
            if line.strip() == "QUOTA":
                met += 1
                if met == quota_threads:
                    ended = time.time()
                    proc.send_signal(signal.SIGINT)
            if time.monotonic() > deadline:
                raise RuntimeError("wrk ran past its deadline")
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode not in (0, -signal.SIGINT):
        raise RuntimeError(f"wrk exited {proc.returncode}:\n" + "".join(lines))
    return lines, ended or time.time()
