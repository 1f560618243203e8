"""Small helpers the benches share (not a bench: chiso.bench skips files starting with `_`)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def wait_healthy(url: str, what: str = "simulator", timeout: float = 300) -> None:
    """Wait until `<url>/health` answers 200 (a simulator generates its span first: minutes on a busy machine)."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} at {url} did not start")
        time.sleep(0.2)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
