"""Start and stop long-running components, each in its own process group with a pid file.

Stopping signals the whole group (Airflow's scheduler ignores SIGTERM and `airflow standalone`-style
children outlive their parent), waits, then SIGKILLs what is left, so nothing stays behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def pidfile(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def read_pid(run_dir: Path, name: str) -> int | None:
    path = pidfile(run_dir, name)
    try:
        pid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            return False
    return True


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    run_dir: Path,
    log_dir: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
) -> int:
    """Start `argv` detached in a new session (= its own process group); return its pid. What is left of an
    earlier incarnation's group is stopped first: a component killed by SIGKILL leaves the processes it forked (the
    Airflow scheduler's child) running in its group, and a new pid file would forget them."""
    stop(run_dir, name)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        list(argv),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(env),
        cwd=cwd,
        start_new_session=True,
    )
    log.close()
    pidfile(run_dir, name).write_text(str(proc.pid))
    return proc.pid


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, process group) of every live process (zombies left out)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                out[int(entry.name)] = (int(fields[1]), int(fields[2]))
    return out


def group_members(pgid: int) -> list[int]:
    return [pid for pid, (_, group) in _processes().items() if group == pgid]


def tree_groups(pgids: set[int]) -> set[int]:
    """The groups and those of every descendant of their members. Airflow's task supervisor starts each task in a
    process group of its own (setpgid), so a component's tasks (and their dbt) are not in the component's group."""
    procs = _processes()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    todo = [pid for pid, (_, group) in procs.items() if group in pgids]
    seen = set(todo)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return (set(pgids) | {procs[pid][1] for pid in seen}) - {os.getpgrp()}


def stop(run_dir: Path, name: str, *, grace: float = 15.0) -> None:
    """SIGTERM the component's process group, and the groups its descendants made, then SIGKILL whatever outlives
    the grace period."""
    path = pidfile(run_dir, name)
    try:
        pgid = int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    groups = {pgid}

    def alive() -> bool:
        return any(group in groups for _, group in _processes().values())

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        # Again before each signal: a descendant whose parent died belongs to init, out of the tree.
        groups = tree_groups(groups)
        if not alive():
            break
        for group in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and alive():
            time.sleep(0.2)
    path.unlink(missing_ok=True)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        return s.connect_ex((host, port)) == 0


def wait_until(check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
