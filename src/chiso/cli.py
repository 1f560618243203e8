"""The `chiso` command: drive the local stack and the pipeline (see README and operations.md)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, timedelta

from chiso import cli_args
from chiso.settings import Settings


def _stack():
    from chiso.stack.supervisor import Stack

    return Stack(Settings())


LOOKBACK_DAYS = 7


def _catch_up_start(loaded: str, s: Settings) -> date | None:
    """Where a start of the demo pipeline begins: None when the stamp covers the window; the day after the loaded end
    minus the lookback when only newer days are missing; the window's start otherwise (other province or start)."""
    try:
        province, span = loaded.split(" ")
        first, last = (date.fromisoformat(x) for x in span.split(".."))
    except ValueError:
        return s.demo_start
    if province != s.province or first != s.demo_start:
        return s.demo_start
    if last >= s.demo_end:
        return None
    return max(s.demo_start, last - timedelta(days=LOOKBACK_DAYS - 1))


def cmd_up(args: argparse.Namespace) -> int:
    stack = _stack()
    # With the pipeline to run, Superset finishes starting while the extracts run (it is needed only after).
    superset = stack.up(superset_in_background=args.pipeline)
    if args.pipeline:
        # The demo window is loaded once; a later start catches up from the end it reached (the window ends
        # "yesterday", so it grows by a day a day) with the usual 7-day lookback, instead of reloading it all.
        window = f"{stack.s.province} {stack.s.demo_start}..{stack.s.demo_end}"
        stamp = stack.s.run_dir / "demo_window_loaded"
        start = _catch_up_start(stamp.read_text() if stamp.exists() else "", stack.s)
        if start is None:
            print(f"demo window {window} already loaded; `chiso pipeline --start … --end …` reruns it")
        else:
            try:
                rc = cmd_pipeline(argparse.Namespace(start=start, end=stack.s.demo_end))
            finally:
                superset.join()
            if rc:
                return rc
            stamp.write_text(window)
        superset.join()
    _print_access(stack.status())
    return 0


def _print_access(st: dict) -> None:
    print("\n=== chiso đang chạy ===")
    print(f"Airflow : {st['airflow']['url']}  (user {st['airflow']['user']} / {st['airflow']['password']})")
    print(
        f"Superset: {st['superset']['url']}  (user {st['superset']['user']} / {st['superset']['password']}; "
        f"viewer {st['superset']['viewer_user']} / {st['superset']['viewer_password']})"
    )
    print(f"Data Docs: {st['data_docs']['url']}")
    print(f"Warehouse (marts, read-only): {st['warehouse']['marts_reader_uri']}")
    print(f"Logs: {st['logs']}")


def cmd_down(args: argparse.Namespace) -> int:
    _stack().down()
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    st = _stack().status()
    if args.json:
        print(json.dumps(st, indent=2, ensure_ascii=False))
    else:
        for name, c in st["components"].items():
            print(f"{name:10} {'healthy' if c['healthy'] else 'DOWN'}")
        _print_access(st)
    return 0 if st["healthy"] else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade the warehouse's schema to the newest revision as its owner (chiso_loader), then sync the freshness
    view. The multi-machine deployment runs it once per release (docker-compose's warehouse-migrate); `chiso up`
    runs the same at every start."""
    import os

    from chiso.stack import credentials, postgres
    from chiso.warehouse import connections, schema

    if args.uri:
        where = args.uri
    else:
        # Same variables as dbt's profile and docker-compose's services; the local stack's defaults otherwise.
        s = Settings(host=os.environ.get("CHISO_PG_HOST") or Settings.host)
        where = connections.target(s, credentials.load(s.home), "loader", os.environ.get("CHISO_PG_DB") or "chiso")
    try:
        r = postgres.upgrade_warehouse(where)
    except schema.MigrationError as exc:
        print(exc, file=sys.stderr)
        return 2
    what = ", ".join(r.applied) if r.applied else "không có gì cần áp dụng"
    adopted = " (kho tạo trước khi có migration: nhận ở phiên bản gốc 0001)" if r.adopted else ""
    print(f"Lược đồ kho dữ liệu: {r.before or 'trống'} → {r.after} ({what}){adopted}")
    return 0


def cmd_pipeline(args: argparse.Namespace) -> int:
    from chiso.airflow_client import AirflowClient
    from chiso.pipeline import run_pipeline

    st = _stack().status()
    if not st["components"]["airflow"]["healthy"]:
        print("Airflow is not running: start the stack with `make run` or `./chiso up`.", file=sys.stderr)
        return 2
    a = st["airflow"]
    failures = run_pipeline(AirflowClient(a["url"], a["user"], a["password"]), args.start, args.end)
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


def _check_up(args: argparse.Namespace) -> str | None:
    """`up --pipeline` loads the demo window of the settings: refuse a window the pipeline would refuse."""
    if not args.pipeline:
        return None
    try:
        s = Settings()
    except ValueError as e:
        return f"cấu hình không hợp lệ: {e}"
    for name, d in (("CHISO_DEMO_START", s.demo_start), ("CHISO_DEMO_END", s.demo_end)):
        if not cli_args.CALENDAR_FIRST_DAY <= d <= cli_args.CALENDAR_LAST_DAY:
            return f"{name} = {d:%d/%m/%Y} nằm ngoài lịch của kho dữ liệu"
    return cli_args.window_problem(s.demo_start, s.demo_end, what="cửa sổ demo (CHISO_DEMO_START..CHISO_DEMO_END)")


def _check_pipeline(args: argparse.Namespace) -> str | None:
    return cli_args.window_problem(args.start, args.end, what="cửa sổ --start..--end")


def build_parser() -> argparse.ArgumentParser:
    p = cli_args.Parser(prog="chiso", description="Kho dữ liệu chỉ số chuyển đổi số của tỉnh")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start every component (build what is missing)")
    up.add_argument("--pipeline", action="store_true", help="then run the pipeline for the demo window")
    up.set_defaults(func=cmd_up)
    cli_args.checked(up, _check_up)
    sub.add_parser("down", help="stop every process of the stack").set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="health of every component; exit 0 only when all are healthy")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)
    mg = sub.add_parser("migrate", help="upgrade the warehouse's schema (raw, quality, exports) to the newest revision")
    mg.add_argument("--uri", help="the warehouse as its owner chiso_loader (default: CHISO_PG_HOST/PORT/DB and"
                    " the loader's password from CHISO_SECRET_PG_LOADER or var/secrets.json)")
    mg.set_defaults(func=cmd_migrate)
    pl = sub.add_parser("pipeline", help="run extract → quality → transform → export for a window via Airflow")
    pl.add_argument("--start", type=cli_args.iso_date, required=True, help="first day, YYYY-MM-DD")
    pl.add_argument("--end", type=cli_args.iso_date, required=True, help="last day, YYYY-MM-DD (today at the latest)")
    pl.set_defaults(func=cmd_pipeline)
    cli_args.checked(pl, _check_pipeline)
    try:
        from chiso.export.cli import register
    except ImportError:
        pass
    else:
        register(sub)
    from chiso.improvement.cli import register as register_phieu

    register_phieu(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
