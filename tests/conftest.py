"""Shared fixtures. `warehouse` starts one embedded PostgreSQL for the whole test session (real server,
real roles and grants) on its own port and data folder, so tests never touch the running stack.

Markers say what a test needs (pyproject.toml lists them): `postgres`, `dbt`, `superset`, `e2e`, `browser`,
`network`. They are applied here from the fixtures a test uses and from its folder, so a new test that asks for
a server cannot forget its marker. A server no selected test is marked as needing is never started (under
`make test-fast`: none): an attempt fails the test naming the marker it lacks."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import early
import psycopg
import pytest

from chiso.settings import Settings
from chiso.stack import credentials, postgres, process
from chiso.warehouse import connections

ARTIFACTS = Path(os.environ.get("CHISO_TEST_ARTIFACTS", Path(__file__).resolve().parents[1] / "var" / "test-artifacts"))


@dataclass
class Warehouse:
    settings: Settings
    creds: dict[str, str]

    def uri(self, role: str = "chiso_loader", db: str = postgres.WAREHOUSE_DB) -> str:
        """`role`: a warehouse role (chiso_loader or loader, ..., postgres or superuser), or airflow / superset."""
        if role in ("airflow", "superset"):  # roles of their own databases, not of the warehouse
            return postgres.uri(self.settings, role, self.creds[postgres.ROLES[role]], db)
        return connections.uri(self.settings, self.creds, role, db)

    def connect(self, role: str = "chiso_loader", **kw) -> psycopg.Connection:
        return psycopg.connect(self.uri(role), **kw)


# ---------------------------------------------------------------- markers: what a test needs

TESTS = Path(__file__).resolve().parent
# fixture (anywhere in a test's fixture closure) -> markers, the first naming what the fixture itself starts
# (ServerFixtureGuard refuses to set it up when no selected test carries it). fresh_schema and the modules' own
# data fixtures depend on `warehouse`; tests/e2e's `airflow` / `superset_admin` on `live_stack`.
FIXTURE_NEEDS = {
    "warehouse": ("postgres",),
    "superset_dev": ("superset", "postgres"),  # tests/integration/test_superset_dashboards.py: own PG + Superset
    "live_stack": ("e2e", "postgres", "dbt", "superset"),  # `chiso up --pipeline`: the whole stack
}
# folder -> markers for every test in it
FOLDER_NEEDS = {TESTS / "e2e": ("e2e", "postgres", "dbt", "superset")}
# folder -> markers for its tests that use the warehouse (tests/dbt: dbt seed + build against it)
FOLDER_WAREHOUSE_NEEDS = {TESTS / "dbt": ("dbt",)}
SERVER_MARKERS = ("postgres", "dbt", "superset", "e2e")
SERVERS = {"postgres": "the embedded PostgreSQL", "superset": "Superset", "e2e": "the whole local stack"}
NEEDED = pytest.StashKey[set[str]]()


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        needs: set[str] = set()
        if item.get_closest_marker("pg"):  # the old name of `postgres`
            needs.add("postgres")
        for fixture, markers in FIXTURE_NEEDS.items():
            if fixture in item.fixturenames:
                needs.update(markers)
        path = Path(str(item.path)).resolve()
        for folder, markers in FOLDER_NEEDS.items():
            if folder in path.parents:
                needs.update(markers)
        if "warehouse" in item.fixturenames:
            for folder, markers in FOLDER_WAREHOUSE_NEEDS.items():
                if folder in path.parents:
                    needs.update(markers)
        for name in sorted(needs):
            if not item.get_closest_marker(name):
                item.add_marker(name)
    # Tests waiting for early work (early.py) last in their folder (tests/unit, ...; the folders keep their order):
    # the work runs beside the folder's other tests instead of being waited for.
    rank: dict[str, int] = {}

    def place(item: pytest.Item) -> tuple[int, bool]:
        path = Path(str(item.path)).resolve()
        top = path.relative_to(TESTS).parts[0] if TESTS in path.parents else ""
        return rank.setdefault(top, len(rank)), early.owns(path)

    items.sort(key=place)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Remember which servers the selected tests need (after -m / -k deselection), and start the slow subprocess
    work of the selected tests' modules (early.py) so it runs beside the rest of the session."""
    session.config.stash[NEEDED] = {m for item in session.items for m in SERVER_MARKERS if item.get_closest_marker(m)}
    if not session.config.option.collectonly:
        early.start({Path(str(item.path)).resolve() for item in session.items})


def pytest_sessionfinish(session: pytest.Session) -> None:
    early.stop()


class ServerNotInThisLane(RuntimeError):
    pass


def refuse_server(config: pytest.Config, markers: tuple[str, ...], what: str) -> None:
    """Refuse to start a server no selected test is marked as needing: under `make test-fast` that is every
    server; in any run it is a test that lacks its marker."""
    needed = config.stash.get(NEEDED, set(SERVER_MARKERS))
    if not needed.intersection(markers):
        expr = config.getoption("markexpr", "") or ""
        raise ServerNotInThisLane(
            f"a test tried to start {what}, but no selected test is marked {' / '.join(markers)}"
            + (f" (-m {expr!r}, e.g. make test-fast)" if expr else "")
            + f". Mark the test @pytest.mark.{markers[0]} or start the server through its fixture"
            " (tests/conftest.py FIXTURE_NEEDS marks the tests that use it)."
        )


class ServerFixtureGuard:
    """A server fixture refuses to start when no selected test needs what it starts (its first marker).
    A plugin rather than a conftest hook: session-scoped fixtures are set up through the session's hooks, which
    leave out conftests below the rootdir."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_fixture_setup(self, fixturedef: pytest.FixtureDef, request: pytest.FixtureRequest) -> None:
        if fixturedef.argname in FIXTURE_NEEDS:
            marker = FIXTURE_NEEDS[fixturedef.argname][0]
            refuse_server(request.config, (marker,), f"{SERVERS[marker]} (fixture `{fixturedef.argname}`)")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ServerFixtureGuard(), "chiso-server-fixture-guard")


@pytest.fixture(scope="session", autouse=True)
def _no_server_outside_its_lane(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever path a test takes to a server (a fixture of its own, the stack supervisor), the embedded
    PostgreSQL and the stack's long-running processes (Superset, Airflow, simulator, Data Docs) start only
    through these functions; they refuse when no selected test is marked as needing them."""
    config = request.config
    mp = pytest.MonkeyPatch()

    def refusing(markers: tuple[str, ...], what: str, real):
        @functools.wraps(real)  # guard.__wrapped__: the real function, for a test that starts no server with it
        def guard(*args, **kwargs):
            refuse_server(config, markers, what)
            return real(*args, **kwargs)

        return guard

    for name in ("ensure_running", "initdb", "start"):
        mp.setattr(postgres, name, refusing(("postgres",), SERVERS["postgres"], getattr(postgres, name)))
    mp.setattr(process, "spawn", refusing(("superset", "e2e"), "a stack process (Superset, Airflow, ...)",
                                          process.spawn))
    try:
        yield
    finally:
        mp.undo()


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def warehouse() -> Iterator[Warehouse]:
    home = Path(tempfile.mkdtemp(prefix="chiso-test-"))
    os.chmod(home, 0o755)  # noqa: S103 - the postgres OS user must traverse it
    settings = Settings(home=home, pg_port=int(os.environ.get("CHISO_TEST_PG_PORT", "5499")))
    creds = credentials.load(home)
    postgres.ensure_running(settings, creds)
    try:
        yield Warehouse(settings, creds)
    finally:
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def fresh_schema(warehouse: Warehouse) -> Iterator[Warehouse]:
    """Empty raw/quality/exports/marts and dbt schemas (and the migrations' version table) before a test that
    needs a clean warehouse; bootstrap migrates it back to head."""
    with warehouse.connect("postgres", autocommit=True) as conn:
        for schema in ("raw", "quality", "exports", "chiso_meta"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        for (schema,) in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspowner = 'chiso_transformer'::regrole"
        ).fetchall():
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    postgres.bootstrap(warehouse.settings, warehouse.creds)
    yield warehouse


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
