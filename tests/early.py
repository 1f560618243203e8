"""Slow subprocess work of a few tests (the SQL linter, the DAG parse), started as soon as the session knows
which tests it runs (conftest.pytest_collection_finish), so that it runs on the machine's other core while the
rest of the session runs in this one; the test (or fixture) owning it then waits for its result. Nothing is
weakened: the same commands and the same assertions, only started earlier.

A test module registers its work with `@early.job`; `early.result(fn)` returns what the work returned or raises
what it raised (it runs the work right there when the session did not start it, e.g. a module run on its own
through a path the hook did not see). Subprocesses still running when the session ends are killed."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

_REGISTERED: dict[Callable[[], Any], Path] = {}  # work -> the test module that owns it
_STARTED: dict[Callable[[], Any], _Job] = {}
_LOCK = threading.Lock()


class _Job:
    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn = fn
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name=f"early-{fn.__name__}", daemon=True)

    def _run(self) -> None:
        try:
            self.value = self.fn()
        except BaseException as exc:  # raised in the test that waits for it
            self.error = exc

    def result(self) -> Any:
        self.thread.join()
        if self.error is not None:
            raise self.error
        return self.value


_PROCS: list[subprocess.Popen] = []
_STOPPED = False


def run(args: list[str], *, timeout: float, **kw: Any) -> subprocess.CompletedProcess:
    """subprocess.run(..., capture_output=True, text=True) whose process the session kills if it ends first."""
    with _LOCK:  # started under the lock: stop() either sees it or has already refused it
        if _STOPPED:
            raise RuntimeError("the test session has ended")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        _PROCS.append(proc)
    try:
        out, err = proc.communicate(timeout=timeout)
    except BaseException:
        proc.kill()
        proc.communicate()
        raise
    finally:
        with _LOCK:
            _PROCS.remove(proc)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def job(fn: Callable[[], Any]) -> Callable[[], Any]:
    """Register `fn` (no arguments) as early work of the module defining it."""
    import sys

    _REGISTERED[fn] = Path(sys.modules[fn.__module__].__file__).resolve()
    return fn


def owns(module: Path) -> bool:
    """Whether a test module has early work (its tests are best run last, when the work is done)."""
    return module in _REGISTERED.values()


def start(modules: set[Path]) -> None:
    """Start the registered work of these test modules (the session's selected tests)."""
    for fn, module in _REGISTERED.items():
        if module in modules:
            with _LOCK:
                if fn in _STARTED:
                    continue
                _STARTED[fn] = j = _Job(fn)
            j.thread.start()


def result(fn: Callable[[], Any]) -> Any:
    with _LOCK:
        j = _STARTED.get(fn)
        if j is None:
            _STARTED[fn] = j = _Job(fn)
            j.thread.start()
    return j.result()


def stop() -> None:
    """End of session: kill what is still running (a test owning it was interrupted or failed first)."""
    global _STOPPED
    with _LOCK:
        _STOPPED = True
        procs = list(_PROCS)
    for p in procs:
        p.kill()
