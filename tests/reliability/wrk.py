"""Drive ``wrk`` through a fixed list of request paths and collect what it saw.

Each of wrk's threads walks its own stride of the list exactly once (thread
``t`` of ``T`` sends paths ``t, t+T, t+2T, ...``) and stops, so a run is a
fixed number of requests with a known mix. Statuses are counted per thread in
Lua and summed in ``done``, which prints one JSON line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_LUA = r"""
local threads = {}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  paths = {}
  for line in io.lines(PATHS_FILE) do table.insert(paths, line) end
  step = NTHREADS
  nexti = id + 1
  sent = 0
  received = 0
  quota = 0
  for i = id + 1, #paths, step do quota = quota + 1 end
  counts = {}
end

function request()
  local p = paths[nexti]
  if p == nil then p = "/healthz" end  -- past the quota: connections ask until wrk stops
  nexti = nexti + step
  sent = sent + 1
  return wrk.format("GET", p)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  received = received + 1
  if received == quota then
    local f = io.open(DONE_FILE, "a")
    f:write("done\n")
    f:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[tostring(k)] = (total[tostring(k)] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(total) do table.insert(parts, string.format('"%s": %d', k, v)) end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, '
    .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
    .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    table.concat(parts, ", ")))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    errors: dict[str, int]
    statuses: dict[int, int]
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def socket_errors(self) -> int:
        return sum(v for k, v in self.errors.items() if k != "status")


def run_wrk(
    url: str,
    paths: list[str],
    workdir: Path,
    connections: int = 64,
    threads: int = 2,
    timeout_s: int = 120,
) -> WrkResult:
    """Send every path in ``paths`` once to ``url`` over ``connections`` connections."""
    plist = workdir / "paths.txt"
    plist.write_text("\n".join(paths) + "\n", encoding="utf-8")
    script = workdir / "mix.lua"
    done = workdir / "done.txt"
    done.unlink(missing_ok=True)
    header = (
        f"PATHS_FILE = {json.dumps(str(plist))}\nDONE_FILE = {json.dumps(str(done))}\n"
        f"NTHREADS = {threads}\n"
    )
    script.write_text(header + _LUA, encoding="utf-8")
    cmd = [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{timeout_s}s", "--timeout", "30s",
        "-s", str(script), url,
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # wrk runs for its whole -d however soon its threads stop; SIGINT ends it early and it
    # still reports, so send one once every thread has had all its responses.
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None and time.monotonic() < deadline:
        if done.exists() and done.read_text().count("done") >= threads:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.05)
    stdout, stderr = proc.communicate(timeout=60)
    line = next((x for x in stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {stdout}{stderr}")
    data = json.loads(line.removeprefix("WRKJSON "))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=data["errors"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
    )
