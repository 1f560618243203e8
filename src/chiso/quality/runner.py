"""Run quality suites against the warehouse with GX Core and store the results.

Each asset's rows are first materialised into an unlogged scratch table (scratch.py), built in
background threads while Great Expectations is imported and earlier suites are validated. An asset's
query computes the columns its checks need, so nearly all checks are column checks that GX counts in
one aggregate query over the table. Validation runs in two passes: counts for every expectation, then
samples for the failed ones only (a sample query scans the whole batch when it finds nothing). Data
Docs render only the pages of this run. The GX context is ephemeral except for its expectation and
validation-result stores, which are files under $CHISO_HOME/gx so that Data Docs ($CHISO_HOME/data_docs)
keep the history of runs.
"""

from __future__ import annotations

import logging
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg

from chiso.quality.config import ROW_LEVEL_TYPES, SuiteSpec, load_freshness, load_suite, render_sql
from chiso.quality.docs_assets import make_offline
from chiso.quality.gx_import import import_gx
from chiso.quality.outcome import ExpectationOutcome, QualityOutcome, message_vi
from chiso.quality.scratch import ScratchTables, drop_stale
from chiso.quality.store import plain_uri, sync_freshness, write_outcome
from chiso.warehouse.connections import with_driver

log = logging.getLogger(__name__)

SAMPLE_SIZE = 10
DOCS_KEEP_PER_SUITE = 200  # validation results kept for Data Docs, per GX suite (the DB keeps all)
# Pass 1: element and unexpected counts; LIMIT 0 for the sample queries GX still issues.
BASIC_COUNTS = {"result_format": "BASIC", "partial_unexpected_count": 0}


def _home(home: Path | None) -> Path:
    if home is not None:
        return Path(home)
    from chiso.settings import get_settings

    return get_settings().home


def _sqlalchemy_uri(uri: str) -> str:
    return with_driver(uri, "psycopg")


def _gx_context(home: Path):
    gx = import_gx()
    from great_expectations.data_context.types.base import DataContextConfig, ProgressBarsConfig

    gx_root = home / "gx"

    def fs(sub: str) -> dict:
        return {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(gx_root / sub)}

    mem = {"class_name": "InMemoryStoreBackend"}
    cfg = DataContextConfig(
        stores={
            "expectations_store": {"class_name": "ExpectationsStore", "store_backend": fs("expectations")},
            "validation_results_store": {"class_name": "ValidationResultsStore", "store_backend": fs("validations")},
            "checkpoint_store": {"class_name": "CheckpointStore", "store_backend": mem},
            "validation_definition_store": {"class_name": "ValidationDefinitionStore", "store_backend": mem},
        },
        expectations_store_name="expectations_store",
        validation_results_store_name="validation_results_store",
        checkpoint_store_name="checkpoint_store",
        data_docs_sites={
            "local_site": {
                "class_name": "SiteBuilder",
                "show_how_to_buttons": False,
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(home / "data_docs"),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            }
        },
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
    )
    return gx.get_context(mode="ephemeral", project_config=cfg)


def _build_expectation(spec, window):
    gx = import_gx()

    cls = getattr(gx.expectations, spec.type)
    kwargs = dict(spec.kwargs)
    if spec.is_sql:
        kwargs["unexpected_rows_query"] = render_sql(kwargs["unexpected_rows_query"], window)
    if spec.mostly is not None:
        kwargs["mostly"] = spec.mostly
    return cls(
        **kwargs,
        severity=spec.severity,
        description=spec.description_vi,
        meta={"chiso_name": spec.name, "severity": spec.severity},
    )


def _sql_sample(conn: psycopg.Connection, query: str, batch_sql: str) -> list[dict]:
    # GX only returns unexpected rows in COMPLETE mode, which would also pull every failing value of
    # the row-level checks; fetch a few offending rows ourselves, only for failed SQL checks.
    sql = query.replace("{batch}", batch_sql).replace("{{", "{").replace("}}", "}")
    try:
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(f"SELECT * FROM ({sql}) q LIMIT {SAMPLE_SIZE}")
            return [dict(r) for r in cur.fetchall()]
    except psycopg.Error as exc:
        conn.rollback()
        log.warning("could not sample unexpected rows: %s", exc)
        return []


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, date | datetime):
        return v.isoformat()
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


def _exception_message(info: Any) -> str | None:
    """GX reports a check that could not run either flat or keyed by metric id."""
    if not isinstance(info, dict):
        return None
    found = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for e in found:
        if e.get("raised_exception"):
            msg = (e.get("exception_message") or "lỗi không rõ").strip()
            return msg.splitlines()[0][:500]
    return None


def _outcome_from_result(spec, suite: SuiteSpec, r, sample_fn) -> ExpectationOutcome:
    res = r.result or {}
    error = _exception_message(r.exception_info)
    success = bool(r.success) and error is None
    element_count = res.get("element_count")
    unexpected_count = res.get("unexpected_count")
    unexpected_percent = res.get("unexpected_percent")
    observed = res.get("observed_value")
    if spec.is_sql and unexpected_count is None and observed is not None:
        unexpected_count = int(observed)
    sample: list[Any] = []
    if not success and error is None:
        if spec.is_sql:
            sample = sample_fn(spec)
        else:
            sample = res.get("partial_unexpected_index_list") or res.get("partial_unexpected_list") or []
    sample = _jsonable(sample)[:SAMPLE_SIZE]
    observed_s = None if observed is None else str(observed)
    return ExpectationOutcome(
        suite=suite.name,
        asset=spec.asset,
        name=spec.name,
        expectation_type=spec.type,
        severity=spec.severity,
        success=success,
        description_vi=spec.description_vi,
        message_vi=message_vi(
            description=spec.description_vi,
            success=success,
            is_sql=spec.is_sql,
            element_count=element_count,
            unexpected_count=unexpected_count,
            unexpected_percent=unexpected_percent,
            mostly=spec.mostly,
            observed_value=observed_s,
            sample=sample,
            hint=spec.hint_vi,
            error=error,
        ),
        mostly=spec.mostly,
        element_count=element_count,
        unexpected_count=unexpected_count,
        unexpected_percent=unexpected_percent,
        observed_value=observed_s,
        unexpected_sample=sample,
        error=error,
    )


def _error_outcome(spec, suite: SuiteSpec, error: str) -> ExpectationOutcome:
    return ExpectationOutcome(
        suite=suite.name,
        asset=spec.asset,
        name=spec.name,
        expectation_type=spec.type,
        severity=spec.severity,
        success=False,
        description_vi=spec.description_vi,
        message_vi=message_vi(
            description=spec.description_vi,
            success=False,
            is_sql=spec.is_sql,
            element_count=None,
            unexpected_count=None,
            unexpected_percent=None,
            mostly=spec.mostly,
            observed_value=None,
            sample=[],
            error=error,
        ),
        mostly=spec.mostly,
        error=error,
    )


def _run_validator(validator, suite, result_format):
    """GX's own validator (the one ValidationDefinition.run drives) on one batch; reused across passes, so the
    batch and its table's reflection are built once."""
    validator.result_format = result_format
    return validator.validate_expectation_suite(suite)


def _add_samples(validator, res, specs, window, key_columns) -> None:
    """Pass 2: re-run the failed row-level checks with samples (SUMMARY) and put their results in
    place of pass 1's in `res` (Data Docs show the samples).
    A sample row shows the asset's key columns and the check's own `sample_columns`."""
    gx = import_gx()

    groups: dict[tuple[str, ...], list] = {}
    for s in specs:
        groups.setdefault(tuple(dict.fromkeys((*key_columns, *s.sample_columns))), []).append(s)
    by_name = {}
    for columns, group in groups.items():
        suite = gx.ExpectationSuite(
            name=f"{res.suite_name}.detail", expectations=[_build_expectation(s, window) for s in group]
        )
        result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": SAMPLE_SIZE}
        if columns:
            result_format["unexpected_index_column_names"] = list(columns)
        detail = _run_validator(validator, suite, result_format)
        by_name |= {r.expectation_config.meta["chiso_name"]: r for r in detail.results}
    for i, r in enumerate(res.results):
        d = by_name.get(r.expectation_config.meta["chiso_name"])
        if d is not None:
            d.expectation_config = r.expectation_config
            res.results[i] = d


def _store_result(ctx, res, gx_suite, validator, run_id: str) -> list[Any]:
    """Store the suite (its Data Docs page) and the validation result as ValidationDefinition.run would, minus
    its round trips through the suite and validation-definition stores; returns the keys Data Docs render."""
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    gx = import_gx()
    run = gx.RunIdentifier(run_name=run_id, run_time=datetime.now(UTC))
    res.meta.update(
        run_id=run, validation_time=run.run_time, batch_parameters=None, validation_id=None, checkpoint_id=None
    )
    suite_key = ExpectationSuiteIdentifier(name=gx_suite.name)
    key = ValidationResultIdentifier(
        expectation_suite_identifier=suite_key, run_id=run, batch_identifier=validator.active_batch_id
    )
    ctx.expectations_store.set(suite_key, gx_suite)
    ctx.validation_results_store.store_validation_results(res, key, suite_key)
    return [key, suite_key]


def _prune_validation_files(home: Path) -> None:
    root = home / "gx" / "validations"
    if not root.exists():
        return
    for suite_dir in root.iterdir():
        files = sorted(suite_dir.rglob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[DOCS_KEEP_PER_SUITE:]:
            old.unlink(missing_ok=True)


def validate(
    suite: str,
    *,
    warehouse_uri: str,
    run_id: str,
    window: tuple[date, date] | None = None,
    home: Path | None = None,
    expectations_dir: Path | None = None,
    build_docs: bool = True,
    read_uri: str | None = None,
) -> QualityOutcome:
    """Validate `suite` (a file in expectations/) for `window` (inclusive dates; None = all data),
    store one row per expectation in quality.expectation_results and rebuild Data Docs.

    `warehouse_uri` is chiso_loader's (it owns schema quality). `read_uri`, when given, is the role
    that reads the checked data (chiso_transformer for staging, which the loader cannot read); the
    rows are then validated through GX query assets instead of scratch tables.

    Never raises because data is bad: call `raise_on_critical(outcome)` to fail a task. Raises on
    configuration errors (unknown suite, malformed YAML) and when the warehouse is unreachable.
    """
    return validate_many(
        [suite],
        warehouse_uri=warehouse_uri,
        run_id=run_id,
        window=window,
        home=home,
        expectations_dir=expectations_dir,
        build_docs=build_docs,
        read_uri=read_uri,
    )[0]


def validate_many(
    suites: list[str],
    *,
    warehouse_uri: str,
    run_id: str,
    window: tuple[date, date] | None = None,
    home: Path | None = None,
    expectations_dir: Path | None = None,
    build_docs: bool = True,
    read_uri: str | None = None,
) -> list[QualityOutcome]:
    """`validate` for several suites (a layer's gate) with one GX context and one Data Docs build at the end:
    rendering is a fixed cost per build (GX recompiles its page templates), not per suite."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)  # its INFO is per-metric noise
    specs = [load_suite(name, expectations_dir) for name in suites]
    home_dir = _home(home)
    outcomes: list[QualityOutcome] = []
    docs_ids: list[Any] = []  # only this run's pages are rendered; the index lists all
    with (
        psycopg.connect(plain_uri(warehouse_uri), autocommit=True) as conn,
        psycopg.connect(plain_uri(read_uri or warehouse_uri), autocommit=True) as data_conn,
        ScratchTables(warehouse_uri) as scratch,
    ):
        sync_freshness(conn, load_freshness(expectations_dir))
        drop_stale(conn)
        if read_uri is None:  # start every table now: PostgreSQL builds them while GX is imported
            for spec in specs:
                eff_window = window if spec.windowed else None
                for asset in spec.assets.values():
                    if checks := spec.for_asset(asset.name):
                        query = render_sql(asset.query, eff_window)
                        scratch.submit((spec.name, asset.name), query, analyze=any(e.is_sql for e in checks))
        ctx = _gx_context(home_dir)
        datasource = ctx.data_sources.add_or_update_postgres(
            "warehouse", connection_string=_sqlalchemy_uri(read_uri or warehouse_uri)
        )
        for spec in specs:
            t0 = time.monotonic()
            outcome, ids = _validate_suite(
                spec, ctx, datasource, data_conn, run_id, window, None if read_uri else scratch
            )
            scratch.drop([(spec.name, a) for a in spec.assets])
            docs_ids += ids
            log.info("%s (%.1fs)", outcome.summary_vi(), time.monotonic() - t0)
            for r in outcome.critical_failures + outcome.warnings:
                log.warning("[%s/%s] %s", r.severity, r.name, r.message_vi)
            outcomes.append(outcome)

        docs_index = _build_docs(ctx, home_dir, docs_ids) if build_docs else None
        for outcome in outcomes:
            outcome.data_docs_index = docs_index
            write_outcome(conn, outcome)
    return outcomes


def _build_docs(ctx, home_dir: Path, docs_ids: list[Any]) -> Path | None:
    try:
        _prune_validation_files(home_dir)
        index = home_dir / "data_docs" / "index.html"
        if docs_ids:  # GX renders every stored result when given no identifiers
            docs_index = index if ctx.build_data_docs(resource_identifiers=docs_ids) else None
            if docs_index is not None:  # GX links CDNs; the data centre has no internet
                make_offline(index.parent)
            return docs_index
        return index if index.exists() else None
    except Exception:  # Data Docs are a convenience; the results are already in the database
        log.exception("building Data Docs failed")
        return None


def _validate_suite(spec: SuiteSpec, ctx, datasource, data_conn, run_id, window, scratch: ScratchTables | None):
    """One suite: every asset read from its scratch table (or, without `scratch`, queried), validated in two
    passes; returns the outcome (not yet stored) and the store keys of this run's results for Data Docs."""
    gx = import_gx()
    from great_expectations.validator.v1_validator import Validator as GXValidator

    eff_window = window if spec.windowed else None
    started = datetime.now(UTC)
    results: list[ExpectationOutcome] = []
    docs_ids: list[Any] = []
    for asset in spec.assets.values():
        specs = spec.for_asset(asset.name)
        if not specs:
            continue
        gx_name = f"{spec.name}.{asset.name}"
        query = render_sql(asset.query, eff_window)
        try:
            if scratch is not None:
                table = scratch.table((spec.name, asset.name))
            else:  # fail early and clearly when the relation is missing or not readable
                data_conn.execute(f"SELECT 1 FROM ({query}) q LIMIT 0")
        except psycopg.Error as exc:
            err = f"không đọc được dữ liệu của '{asset.name}': {str(exc).strip().splitlines()[0]}"
            results += [_error_outcome(s, spec, err) for s in specs]
            continue
        if scratch is not None:
            batch_sql = f'quality."{table}"'
            gx_asset = datasource.add_table_asset(gx_name, table_name=table, schema_name="quality")
        else:
            batch_sql = f"({query}) AS batch_rows"
            gx_asset = datasource.add_query_asset(gx_name, query=query)
        batch_def = gx_asset.add_batch_definition_whole_table("whole")
        # The suite stays in memory: the expectations store only gets it for its Data Docs page, once.
        gx_suite = gx.ExpectationSuite(
            name=gx_name,
            expectations=[_build_expectation(s, eff_window) for s in specs],
            meta={"layer": spec.layer, "description_vi": spec.description_vi},
        )
        by_name = {s.name: s for s in specs}
        try:
            validator = GXValidator(batch_definition=batch_def)
            # Pass 1: counts only (BASIC, no sample), so no per-expectation sample queries,
            # each a full scan of the batch when nothing is wrong.
            res = _run_validator(validator, gx_suite, BASIC_COUNTS)
        except Exception as exc:  # a broken check must show up as a failed check, not vanish
            log.exception("validation of %s failed to run", gx_name)
            err = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
            results += [_error_outcome(s, spec, err) for s in specs]
            continue
        # Pass 2: failed row-level checks again, with samples (SQL checks are sampled below).
        detail = [
            by_name[r.expectation_config.meta["chiso_name"]]
            for r in res.results
            if not r.success and not _exception_message(r.exception_info)
        ]
        detail = [s for s in detail if s.type in ROW_LEVEL_TYPES]
        if detail:
            try:
                _add_samples(validator, res, detail, eff_window, asset.key_columns)
            except Exception:  # the counts of pass 1 stand; only the samples are missing
                log.exception("sampling the failed checks of %s failed", gx_name)
        try:
            docs_ids += _store_result(ctx, res, gx_suite, validator, run_id)
        except Exception:  # Data Docs lose this page; the outcome still goes to the database
            log.exception("storing the GX result of %s failed", gx_name)

        def sample(s, _batch=batch_sql):
            return _sql_sample(data_conn, render_sql(s.kwargs["unexpected_rows_query"], eff_window), _batch)

        for r in res.results:
            s = by_name[r.expectation_config.meta["chiso_name"]]
            results.append(_outcome_from_result(s, spec, r, sample))

    order = {s.name: i for i, s in enumerate(spec.expectations)}
    results.sort(key=lambda r: order.get(r.name, 1 << 30))
    outcome = QualityOutcome(
        suite=spec.name,
        layer=spec.layer,
        run_id=run_id,
        window=eff_window,
        started_at=started,
        finished_at=datetime.now(UTC),
        results=results,
        data_docs_index=None,
    )
    return outcome, docs_ids
