"""The one place a PostgreSQL connection string is built, for every role of the warehouse.

Callers hand over either Settings + credentials (the local stack, `chiso migrate`) or the fields of an Airflow
connection; both end in `build_uri`, so quoting (passwords with @ / : %) is done once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from chiso.settings import Settings

WAREHOUSE_DB = "chiso"
SUPERUSER = "postgres"

# role -> (PostgreSQL role name, credentials key)
ROLES = {
    "superuser": (SUPERUSER, "pg_superuser"),
    "loader": ("chiso_loader", "pg_loader"),  # owns raw, quality, exports and the migrations' version table
    "transformer": ("chiso_transformer", "pg_transformer"),  # dbt
    "reader": ("chiso_reader", "pg_reader"),  # Superset: marts only
}
_BY_ROLE_NAME = {name: role for role, (name, _) in ROLES.items()}

# Drivers a URI may name (SQLAlchemy style); psycopg itself wants the plain scheme.
_PLAIN_PREFIXES = ("postgresql+psycopg://", "postgresql+psycopg2://", "postgres://")


def build_uri(
    host: str | None,
    port: int | str | None,
    dbname: str | None,
    user: str | None = None,
    password: str | None = None,
    *,
    driver: str | None = None,
) -> str:
    """libpq / SQLAlchemy URI; user and password percent-quoted, port left out when None (libpq's default)."""
    auth = ""
    if user:
        auth = quote(user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        auth += "@"
    scheme = f"postgresql+{driver}" if driver else "postgresql"
    port_part = f":{port}" if port else ""
    return f"{scheme}://{auth}{host or '127.0.0.1'}{port_part}/{dbname or WAREHOUSE_DB}"


def plain_uri(uri: str) -> str:
    """psycopg wants postgresql://; accept SQLAlchemy-style URIs (and postgres://) too."""
    for prefix in _PLAIN_PREFIXES:
        if uri.startswith(prefix):
            return "postgresql://" + uri[len(prefix) :]
    return uri


def with_driver(uri: str, driver: str = "psycopg") -> str:
    """The same URI for SQLAlchemy with an explicit driver (GX, Alembic)."""
    return f"postgresql+{driver}://" + plain_uri(uri)[len("postgresql://") :]


def redact(uri: str) -> str:
    """The URI with its password masked, for messages and logs."""
    scheme, sep, rest = uri.partition("://")
    auth, at, hostpart = rest.rpartition("@")
    if not at or ":" not in auth:
        return uri
    return f"{scheme}{sep}{auth.split(':', 1)[0]}:***@{hostpart}"


@dataclass(frozen=True)
class Target:
    """Where and as whom to connect. The password never appears in repr()/str() (logs, tracebacks)."""

    host: str
    port: int | None
    dbname: str
    user: str
    password: str | None = field(default=None, repr=False)

    def uri(self, driver: str | None = None) -> str:
        return build_uri(self.host, self.port, self.dbname, self.user, self.password, driver=driver)

    def __str__(self) -> str:
        return redact(self.uri())


def role_name(role: str) -> str:
    """PostgreSQL role of a warehouse role ('loader' -> 'chiso_loader'); a role name is accepted as is."""
    if role in ROLES:
        return ROLES[role][0]
    if role in _BY_ROLE_NAME:
        return role
    raise ValueError(f"unknown warehouse role {role!r} (one of {', '.join(ROLES)})")


def target(s: Settings, creds: dict[str, str], role: str, db: str = WAREHOUSE_DB) -> Target:
    """`role`: superuser | loader | transformer | reader (or its PostgreSQL name, e.g. chiso_loader)."""
    name = role_name(role)
    key = ROLES[_BY_ROLE_NAME[name]][1]
    return Target(s.host, s.pg_port, db, name, creds[key])


def uri(s: Settings, creds: dict[str, str], role: str, db: str = WAREHOUSE_DB, *, driver: str | None = None) -> str:
    return target(s, creds, role, db).uri(driver)
