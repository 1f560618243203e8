"""`chiso down` leaves nothing behind: a component's descendants in process groups of their own (Airflow's task
supervisor puts every task in one, setpgid) are stopped with the component."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from chiso.stack import process

# A component that starts a task in a new session (= its own group), as Airflow's task supervisor does, and
# ignores SIGTERM, as Airflow's scheduler does. The task ignores it too: only the SIGKILL after the grace ends it.
COMPONENT = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
task = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(300)"], start_new_session=True)
open(sys.argv[1], "w").write(str(task.pid))
time.sleep(300)
"""


def test_stop_ends_the_groups_its_descendants_made(tmp_path):
    task_pid_file = tmp_path / "task.pid"
    # Started as process.spawn does (its own session, a pid file); spawn itself is kept for the stack's servers.
    proc = subprocess.Popen([sys.executable, "-c", COMPONENT, str(task_pid_file)], start_new_session=True)
    pid = proc.pid
    process.pidfile(tmp_path, "component").write_text(str(pid))
    try:
        deadline = time.monotonic() + 30
        while not (task_pid_file.exists() and task_pid_file.read_text()):
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        task = int(task_pid_file.read_text())
        assert process.pid_alive(task) and task not in process.group_members(pid)  # another group
        assert process.tree_groups({pid}) == {pid, task}

        t0 = time.monotonic()
        process.stop(tmp_path, "component", grace=1.0)
        proc.wait(timeout=5)  # reap our child (a zombie is not alive for pid_alive either)
        assert not process.pid_alive(task) and not process.group_members(pid)
        assert not (tmp_path / "component.pid").exists()
        assert time.monotonic() - t0 < 10
    finally:  # a failed assertion must not leave the two sleeping
        for p in (pid, int(task_pid_file.read_text() or 0) if task_pid_file.exists() else 0):
            if p and process.pid_alive(p):
                os.kill(p, signal.SIGKILL)
