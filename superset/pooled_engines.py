"""One pooled SQLAlchemy engine per gunicorn process for the warehouse, instead of one engine per query.

Superset 6.1 builds a new engine with NullPool for every query on an analytics database (models/core.py,
Database._get_sqla_engine; apache/superset#27897): each chart query pays a new PostgreSQL backend (fork, SCRAM
authentication, cold catalog caches) and SQLAlchemy's dialect initialisation (several round trips), before its SQL
runs. DB_CONNECTION_MUTATOR cannot help: it changes the arguments of that per-query engine, not its lifetime.

Here the engine of a query on the databases named in POOLED is kept, keyed on everything the engine is built
from (URI with its password, catalog, schema, the database's extra), with a small QueuePool: a gthread worker runs
at most its threads' queries at once. pool_pre_ping replaces a connection PostgreSQL dropped (a restart); a
connection is recycled after POOL_RECYCLE_S. Superset still runs its pre-queries (`set search_path`) on every
checkout. Impersonation and SSH tunnels are not pooled (per-user or per-tunnel engines).

Installed by superset_config.FLASK_APP_MUTATOR (`install(names)`). Runs inside Superset; imports Superset lazily.
"""

from __future__ import annotations

import threading
from typing import Any

POOL_RECYCLE_S = 1800
_engines: dict[tuple, Any] = {}
_lock = threading.Lock()


def install(pooled: set[str], pool_size: int) -> None:
    from superset.models.core import Database

    original = Database._get_sqla_engine

    def _get_sqla_engine(self, catalog=None, schema=None, nullpool=True, source=None, sqlalchemy_uri=None):
        if not nullpool or self.database_name not in pooled or self.impersonate_user or self.ssh_tunnel:
            return original(self, catalog=catalog, schema=schema, nullpool=nullpool, source=source,
                            sqlalchemy_uri=sqlalchemy_uri)
        key = (self.id, sqlalchemy_uri or self.sqlalchemy_uri_decrypted, catalog, schema, self.extra,
               self.encrypted_extra)
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                for old in [k for k in _engines if k[0] == self.id]:  # a changed connection: drop the old pool
                    _engines.pop(old).dispose()
                engine = _engines[key] = _pooled(self, original, catalog, schema, source, sqlalchemy_uri, pool_size)
        return engine

    Database._get_sqla_engine = _get_sqla_engine


def _pooled(database, original, catalog, schema, source, sqlalchemy_uri, pool_size):
    """Superset's own engine for the query (its URI, connect args and mutators), with a QueuePool."""
    get_extra = database.get_extra

    def extra_with_pool(*args, **kwargs):
        extra = get_extra(*args, **kwargs)
        params = extra.setdefault("engine_params", {})
        params.setdefault("pool_size", pool_size)
        params.setdefault("max_overflow", pool_size)
        params.setdefault("pool_pre_ping", True)
        params.setdefault("pool_recycle", POOL_RECYCLE_S)
        return extra

    database.get_extra = extra_with_pool
    try:
        return original(database, catalog=catalog, schema=schema, nullpool=False, source=source,
                        sqlalchemy_uri=sqlalchemy_uri)
    finally:
        del database.get_extra
