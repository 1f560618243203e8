"""Health of the Celery side of the stack (CHISO_EXECUTOR=celery): the Redis broker and the workers.

Redis is asked over its own protocol (AUTH + PING on a socket: no client library, no password on a command line);
the workers through the broker, as Celery's `inspect ping` does: a worker counts only when it answers.
"""

from __future__ import annotations

import socket


def _command(*args: str) -> bytes:
    """One command in RESP, Redis' wire format."""
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def redis_ping(host: str, port: int, password: str, timeout: float = 1.0) -> bool:
    """True when the Redis at host:port accepts the password and answers PING."""
    expected = b"+OK\r\n+PONG\r\n"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_command("AUTH", password) + _command("PING"))
            got = b""
            while len(got) < len(expected) and not got.startswith(b"-"):
                chunk = sock.recv(256)
                if not chunk:
                    break
                got += chunk
    except OSError:
        return False
    return got == expected


def workers_answering(broker_url: str, timeout: float = 1.0) -> set[str]:
    """Node names (celery@…) of the workers that answer a ping through the broker within `timeout`."""
    from celery import Celery

    app = Celery("chiso-status", broker=broker_url, set_as_current=False)
    app.conf.broker_connection_retry = False
    app.conf.broker_connection_max_retries = 0
    try:
        replies = app.control.ping(timeout=timeout)
    except Exception:  # noqa: BLE001 - broker unreachable: nobody answers
        return set()
    finally:
        app.close()
    return {name for reply in replies for name in reply}
