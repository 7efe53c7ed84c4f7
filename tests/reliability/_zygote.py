"""A process that imports the project once, then forks one child per build.

The fault tests kill those children with SIGKILL at chosen moments; forking
from a warm parent keeps each kill point to the build's own duration instead
of the seconds Python needs to import GDAL, GEOS and pandas. The parent never
builds and starts no threads, so forking it is safe.

Protocol, one JSON object per line on stdin::

    {"ws": "/path/to/ws", "layers": ["roads"] | null, "force": true}

answered on stdout by ``pid <child pid>`` and, once the child ends,
``exit <code> <seconds>`` (the code is ``-9`` for a SIGKILL).
"""

from __future__ import annotations

import json
import os
import sys
import time

import twin.builders  # noqa: F401  (registers every builder before the first fork)
from twin.errors import TwinError
from twin.workspace import Twin


def _child(job: dict) -> int:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # the parent's stdout carries the protocol
    try:
        Twin.open(job["ws"]).build(job.get("layers"), force=bool(job.get("force")))
    except TwinError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    return 0


def main() -> None:
    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(job)
            finally:
                os._exit(code)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        print(f"exit {code} {time.perf_counter() - start:.3f}", flush=True)


if __name__ == "__main__":
    main()
