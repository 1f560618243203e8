"""`chiso exports list | show <id> | resend <id> | run`: the operator's view of national submissions.

Targets come from the same AIRFLOW_CONN_* values the stack gives Airflow (environment first, then the
local stack's defaults), so the CLI and the DAG always talk to the same receiver and warehouse.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from datetime import date
from pathlib import Path

from chiso import cli_args
from chiso.assets import CONN_NATIONAL, CONN_WAREHOUSE

STATUS_VI = {"pending": "chờ gửi", "accepted": "đã tiếp nhận", "failed_permanent": "bị từ chối"}


def _conn_value(conn_id: str) -> str:
    var = f"AIRFLOW_CONN_{conn_id.upper()}"
    if os.environ.get(var):
        return os.environ[var]
    from chiso.settings import Settings
    from chiso.stack import components, credentials

    s = Settings()
    return components.connections(s, credentials.load(s.home))[var]


def targets() -> tuple[str, str, str]:
    """(warehouse URI, receiver URL, token)."""
    from chiso.export.connections import ConnFields, receiver, warehouse_uri

    url, token = receiver(ConnFields.parse(_conn_value(CONN_NATIONAL)))
    return warehouse_uri(ConnFields.parse(_conn_value(CONN_WAREHOUSE))), url, token


def exports_dir() -> Path:
    if os.environ.get("CHISO_EXPORTS_DIR"):
        return Path(os.environ["CHISO_EXPORTS_DIR"])
    from chiso.settings import Settings

    return Settings().home / "exports"


def _print(obj, as_json: bool) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False, indent=2, default=str))


def cmd_list(args: argparse.Namespace) -> int:
    from chiso.export.runner import list_submissions

    rows = list_submissions(targets()[0], status=args.status, report=args.report, limit=args.limit)
    if args.json:
        _print(rows, True)
        return 0
    print(f"{'#':>5}  {'báo cáo':13} {'kỳ':19} {'từ ngày':10}  lần  {'trạng thái':14} {'mã tiếp nhận':18} lỗi")
    for r in rows:
        print(
            f"{r['submission_id']:>5}  {r['report_code']:13} {r['period_type']:19} {r['period_start']}  "
            f"{r['revision']:>3}  {STATUS_VI.get(r['status'], r['status']):14} {r['receipt'] or '-':18} "
            f"{(r['error'] or '')[:100]}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from chiso.export.runner import show_document

    try:
        sub = show_document(targets()[0], args.id)
    except LookupError as e:
        print(str(e), file=sys.stderr)
        return 1
    if args.document:
        _print(sub["document"], True)
        return 0
    if args.json:
        _print(sub, True)
        return 0
    doc = sub.pop("document")
    changes = sub.pop("changes") or []
    attempts = sub.pop("attempts_log")
    for k, v in sub.items():
        print(f"{k:18} {v}")
    print(f"{'đơn vị trong báo cáo':18} {len(doc['duLieu'])}")
    if changes:
        print(f"\nSố liệu thay đổi so với lần gửi được tiếp nhận trước ({len(changes)}):")
        for c in changes[:200]:
            where = " ".join(x for x in (c["maDinhDanh"], c["phamVi"], c["ma"]) if x)
            print(f"  {where} {c['truong']}: {c['cu']} → {c['moi']}")
    print(f"\nCác lần gửi ({len(attempts)}):")
    for a in attempts:
        print(
            f"  {a['attempt_no']:>3} {a['started_at']} HTTP {a['http_status'] or '-':>4} {a['outcome']:16}"
            f" {a['receipt'] or ''} {a['error'] or ''}"
        )
    return 0


def cmd_resend(args: argparse.Namespace) -> int:
    from chiso.export.build import BuildError
    from chiso.export.runner import resend

    uri, url, token = targets()
    try:
        result = resend(uri, url, token, args.id, out_dir=exports_dir(), run_id=f"cli-{uuid.uuid4().hex[:8]}")
    except (LookupError, BuildError) as e:  # BuildError: the marts cannot give that period's document now
        print(str(e), file=sys.stderr)
        return 1
    if args.json:
        _print(result, True)
    else:
        print(f"#{result['submission_id']} ({result['action']}): {result['message']}")
    return 0 if result["ok"] else 1


def cmd_run(args: argparse.Namespace) -> int:
    from chiso.export.runner import run_exports

    uri, url, token = targets()
    summary = run_exports(
        uri,
        url,
        token,
        args.out or exports_dir(),
        today=args.today or date.today(),
        run_id=f"cli-{uuid.uuid4().hex[:8]}",
    )
    if args.json:
        _print(summary.to_dict(), True)
    else:
        print(summary.describe())
    return 0 if summary.ok else 1


def _check_run(args: argparse.Namespace) -> str | None:
    # Reports fall due by `today`: a day to come would send periods that have not ended.
    return cli_args.not_in_future(args.today, what="--today") if args.today else None


def register(subparsers) -> None:
    """Add `exports …` to the chiso CLI's subparsers (each leaf sets `func`)."""
    p = subparsers.add_parser("exports", help="báo cáo gửi Hệ thống báo cáo quốc gia: xem, gửi lại")
    sub = p.add_subparsers(dest="exports_command", required=True)

    ls = sub.add_parser("list", help="danh sách các lần gửi")
    ls.add_argument("--status", choices=sorted(STATUS_VI))
    ls.add_argument("--report", choices=["BIEU_06_TTHC", "CHI_SO_CDS"])
    ls.add_argument("--limit", type=cli_args.positive_int, default=200)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    sh = sub.add_parser("show", help="một lần gửi: tài liệu, số liệu thay đổi, các lần thử")
    sh.add_argument("id", type=cli_args.positive_int)
    sh.add_argument("--json", action="store_true")
    sh.add_argument("--document", action="store_true", help="chỉ in tài liệu JSON đã gửi")
    sh.set_defaults(func=cmd_show)

    rs = sub.add_parser("resend", help="gửi lại theo trạng thái (xem tài liệu: chiso exports show)")
    rs.add_argument("id", type=cli_args.positive_int)
    rs.add_argument("--json", action="store_true")
    rs.set_defaults(func=cmd_resend)

    run = sub.add_parser("run", help="xây dựng và gửi mọi báo cáo đến hạn (như DAG export_national_reports)")
    run.add_argument("--today", type=cli_args.iso_date, help="ngày xét đến hạn (YYYY-MM-DD, không sau hôm nay)")
    run.add_argument("--out", type=cli_args.output_dir, help="thư mục ghi tài liệu")
    run.add_argument("--json", action="store_true")
    run.set_defaults(func=cmd_run)
    cli_args.checked(run, _check_run)
