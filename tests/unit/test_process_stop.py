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


# A component that forks a child into its own group (as Airflow's scheduler does) and then waits.
FORKING = """
import os, sys, time
child = os.fork()
if child == 0:
    time.sleep(300)
    os._exit(0)
open(sys.argv[1], "w").write(str(child))
time.sleep(300)
"""


def test_respawn_after_a_sigkill_ends_what_the_dead_component_forked(tmp_path):
    """SIGKILL of a component's main process orphans its forked child in the component's group; spawning the
    component again (`chiso up` respawns a dead one) stops that group first, so no old child runs beside the new."""
    child_file = tmp_path / "child.pid"
    logs = tmp_path / "logs"
    spawn = getattr(process.spawn, "__wrapped__", process.spawn)  # two sleeping pythons, no server: not guarded
    first = spawn("component", [sys.executable, "-c", FORKING, str(child_file)], run_dir=tmp_path,
                          log_dir=logs, env=os.environ)
    second = None
    try:
        deadline = time.monotonic() + 30
        while not (child_file.exists() and child_file.read_text()):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        child = int(child_file.read_text())
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process.pid_alive(first):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert process.read_pid(tmp_path, "component") is None and process.pid_alive(child)  # the orphan

        second = spawn("component", [sys.executable, "-c", "import time; time.sleep(300)"],
                               run_dir=tmp_path, log_dir=logs, env=os.environ)
        assert not process.pid_alive(child) and process.read_pid(tmp_path, "component") == second
    finally:
        for p in (first, second, int(child_file.read_text() or 0) if child_file.exists() else 0):
            if p and process.pid_alive(p):
                os.kill(p, signal.SIGKILL)
