"""Targets of the exports from Airflow-style connections (an Airflow Connection, its JSON or its URI form).

The DAG passes Airflow's Connection objects; the CLI reads the same AIRFLOW_CONN_* values the stack
sets, so both reach the same receiver and warehouse and a deployment's overrides apply to both.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass
class ConnFields:
    conn_type: str | None = None
    host: str | None = None
    port: int | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None

    @classmethod
    def of(cls, conn) -> ConnFields:
        """From an Airflow Connection (or anything with the same attributes)."""
        return cls(conn.conn_type, conn.host, conn.port, conn.schema, conn.login, conn.password)

    @classmethod
    def parse(cls, value: str) -> ConnFields:
        """From an AIRFLOW_CONN_* value: JSON or URI (`scheme://login:password@host:port/schema`)."""
        value = value.strip()
        if value.startswith("{"):
            d = json.loads(value)
            port = d.get("port")
            return cls(
                d.get("conn_type"),
                d.get("host"),
                int(port) if port else None,
                d.get("schema"),
                d.get("login"),
                d.get("password"),
            )
        u = urlsplit(value)
        return cls(
            u.scheme.replace("-", "_") or None,
            u.hostname,
            u.port,
            unquote(u.path.lstrip("/")) or None,
            unquote(u.username) if u.username else None,
            unquote(u.password) if u.password else None,
        )


def warehouse_uri(c: ConnFields) -> str:
    from chiso.warehouse.connections import build_uri

    return build_uri(c.host, c.port, c.schema, c.login, c.password)


def receiver(c: ConnFields) -> tuple[str, str]:
    """(base URL, bearer token) of the national reporting system."""
    host = (c.host or "127.0.0.1").rstrip("/")
    if "://" in host:
        base = host
        if c.port and urlsplit(host).port is None:
            base = f"{host}:{c.port}"
    else:
        scheme = c.schema if c.schema in ("http", "https") else ("https" if c.port == 443 else "http")
        base = f"{scheme}://{host}" + (f":{c.port}" if c.port else "")
    if not c.password:
        raise ValueError("Kết nối national_report_api thiếu token (trường password)")
    return base, c.password
