"""Airflow's log server, bound to loopback.

Airflow's scheduler and triggerer each start a log server (`airflow.utils.serve_logs.serve_logs`) that binds
every interface (host "" / "[::]") with no setting to change it. The local stack starts them with
`--skip-serve-logs` and runs this one process instead: Airflow's own log-serving app (JWT-checked, over the same
log folder) on the worker and triggerer log ports, on `host` only. Task instances record `loopback_hostname()` as
their host (`[core] hostname_callable`), so the API server fetches a running task's log from there. Celery workers
(CHISO_EXECUTOR=celery) each have a loopback address of their own, as separate machines would: `--listen` serves
the worker log port there too.

    python -m chiso.stack.log_server --host 127.0.0.1 --port 8793 --port 8794 [--listen 127.0.0.2:8793 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import signal

from chiso.cli_args import Parser, positive_int
from chiso.settings import Settings

APP = "airflow.utils.serve_logs.log_server:get_app"
TASK_HOST_VAR = "CHISO_TASK_HOST"  # set for each Celery worker (chiso.stack.components.celery_worker_env)


def loopback_hostname() -> str:
    """`[core] hostname_callable` of the local stack: every component runs here and listens on loopback; a Celery
    worker's tasks record the worker's own loopback address."""
    return os.environ.get(TASK_HOST_VAR) or Settings.host


def loopback_address(text: str) -> tuple[str, int]:
    """`--listen HOST:PORT`, HOST a loopback address: this server never listens elsewhere."""
    host, _, port = text.rpartition(":")
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError
        return host, positive_int(port)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"cần địa chỉ loopback dạng HOST:PORT, nhận '{text}'") from None


async def _serve(listens: list[tuple[str, int]]) -> None:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # one handler for the process, below
            yield

    config = {"factory": True, "log_config": None, "access_log": False, "lifespan": "off"}
    servers = [_Server(uvicorn.Config(APP, host=host, port=port, **config)) for host, port in listens]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    stop()  # one server ending (e.g. its port taken) ends the other
    await asyncio.gather(*tasks, return_exceptions=True)
    failed = [f"{host}:{port}" for (host, port), s in zip(listens, servers, strict=True) if not s.started]
    if failed:
        raise SystemExit(f"log server: could not listen on {', '.join(failed)}")


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python -m chiso.stack.log_server", description=__doc__.splitlines()[0])
    p.add_argument("--host", default=Settings.host)
    p.add_argument("--port", type=positive_int, action="append", required=True)
    p.add_argument("--listen", type=loopback_address, action="append", default=[], help="HOST:PORT, also")
    args = p.parse_args(argv)
    asyncio.run(_serve([(args.host, port) for port in args.port] + args.listen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
