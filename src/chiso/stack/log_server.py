"""Airflow's log server, bound to loopback.

Airflow's scheduler and triggerer each start a log server (`airflow.utils.serve_logs.serve_logs`) that binds
every interface (host "" / "[::]") with no setting to change it. The local stack starts them with
`--skip-serve-logs` and runs this one process instead: Airflow's own log-serving app (JWT-checked, over the same
log folder) on the worker and triggerer log ports, on `host` only. Task instances record `loopback_hostname()` as
their host (`[core] hostname_callable`), so the API server fetches a running task's log from there.

    python -m chiso.stack.log_server --host 127.0.0.1 --port 8793 --port 8794
"""

from __future__ import annotations

import asyncio
import contextlib
import signal

from chiso.cli_args import Parser, positive_int
from chiso.settings import Settings

APP = "airflow.utils.serve_logs.log_server:get_app"


def loopback_hostname() -> str:
    """`[core] hostname_callable` of the local stack: every component runs here and listens on loopback."""
    return Settings.host


async def _serve(host: str, ports: list[int]) -> None:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # one handler for the process, below
            yield

    config = {"factory": True, "host": host, "log_config": None, "access_log": False, "lifespan": "off"}
    servers = [_Server(uvicorn.Config(APP, port=port, **config)) for port in ports]
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
    failed = [port for port, s in zip(ports, servers, strict=True) if not s.started]
    if failed:
        raise SystemExit(f"log server: could not listen on {host}:{failed}")


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="python -m chiso.stack.log_server", description=__doc__.splitlines()[0])
    p.add_argument("--host", default=Settings.host)
    p.add_argument("--port", type=positive_int, action="append", required=True)
    args = p.parse_args(argv)
    asyncio.run(_serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
