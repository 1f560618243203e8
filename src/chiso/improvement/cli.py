"""`chiso phieu list | write`: the "Phiếu cải thiện chỉ số" kept under the data folder.

The warehouse is reached as the exporter reaches it (AIRFLOW_CONN_WAREHOUSE_DB, else the local stack's default),
on a read-only connection: the sheets read the marts only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import date
from pathlib import Path

from chiso import cli_args
from chiso.assets import CONN_WAREHOUSE

BASES = ("current", "historical")
SCOPES = ("unit", "area")


def warehouse_uri() -> str:
    from chiso.export.connections import ConnFields
    from chiso.export.connections import warehouse_uri as uri_of

    var = f"AIRFLOW_CONN_{CONN_WAREHOUSE.upper()}"
    value = os.environ.get(var)
    if not value:
        from chiso.settings import Settings
        from chiso.stack import components, credentials

        s = Settings()
        value = components.connections(s, credentials.load(s.home))[var]
    return uri_of(ConnFields.parse(value))


def cmd_list(args: argparse.Namespace) -> int:
    from chiso.improvement import runner

    out = args.dir or runner.default_dir()
    rows = runner.list_sheets(out, month=args.month, unit_code=args.unit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"Chưa có phiếu nào trong {out}" + (f" cho tháng {args.month:%m/%Y}" if args.month else "") + ".")
        return 0
    print(f"{'tháng':7}  {'mã định danh':20} {'tên đơn vị':40} {'ghi lúc':19}  tệp")
    for r in rows:
        name = (r["unit_name"] or "")[:40]
        print(f"{r['month']:7}  {r['unit_code']:20} {name:40} {r['written_at'] or '-':19}  {r['path']}")
    print(f"\n{len(rows)} phiếu")
    return 0


def cmd_write(args: argparse.Namespace) -> int:
    import psycopg

    from chiso.improvement import runner
    from chiso.improvement.sheet import SheetError

    out = args.dir or runner.default_dir()
    try:
        if args.all:
            summary = runner.write_months(warehouse_uri(), out, [args.month])
            print(summary.describe())
            return 0
        path = runner.write_one(
            warehouse_uri(), args.unit, args.month, out, basis=args.basis, scope=args.scope, path=args.out
        )
    except SheetError as e:  # the marts have no such unit or month
        print(f"Lỗi: {e}", file=sys.stderr)
        return 1
    except psycopg.OperationalError as e:
        reason = str(e).strip().splitlines()[0]
        print(f"Lỗi: không kết nối được kho dữ liệu ({reason}). Kho đã chạy chưa (`./chiso status`)?", file=sys.stderr)
        return 1
    print(f"Đã ghi phiếu cải thiện chỉ số: {path}")
    return 0


def year_month(text: str) -> date:
    """A month written YYYY-MM, inside the warehouse's calendar."""
    from chiso.improvement.sheet import SheetError, parse_month

    try:
        month = parse_month(text)
    except SheetError:
        raise argparse.ArgumentTypeError(f"tháng '{text}' không đúng dạng YYYY-MM (ví dụ 2026-10)") from None
    if not cli_args.CALENDAR_FIRST_DAY <= month <= cli_args.CALENDAR_LAST_DAY:
        raise argparse.ArgumentTypeError(f"tháng {month:%m/%Y} nằm ngoài lịch của kho dữ liệu")
    return month


def unit_code(text: str) -> str:
    """An electronic identifier (mã định danh), e.g. 000.00.00.H25: letters, digits and dots."""
    code = text.strip()
    if not re.fullmatch(r"[0-9A-Za-z.]{1,40}", code):
        raise argparse.ArgumentTypeError(f"mã định danh '{text}' không hợp lệ (ví dụ 000.00.00.H25)")
    return code


def _check_write(args: argparse.Namespace) -> str | None:
    if args.all and (args.basis != "current" or args.scope != "unit" or args.out):
        return (
            "--all ghi phiếu của mọi đơn vị hiện nay (số liệu của đơn vị) vào thư mục dữ liệu;"
            " --basis, --scope và --out chỉ dùng với --unit"
        )
    today = cli_args.today()
    if args.month > today:
        return f"tháng {args.month:%m/%Y} chưa bắt đầu (hôm nay là {today:%d/%m/%Y})"
    return None


def register(subparsers) -> None:
    """Add `phieu …` to the chiso CLI's subparsers (each leaf sets `func`)."""
    p = subparsers.add_parser("phieu", help="phiếu cải thiện chỉ số của đơn vị theo tháng (XLSX): xem, ghi")
    sub = p.add_subparsers(dest="phieu_command", required=True)

    ls = sub.add_parser("list", help="các phiếu đã ghi trong thư mục dữ liệu")
    ls.add_argument("--month", type=year_month, help="tháng YYYY-MM, ví dụ 2026-10")
    ls.add_argument("--unit", type=unit_code, help="mã định danh của đơn vị")
    ls.add_argument("--dir", type=Path, help="thư mục phiếu (mặc định: $CHISO_HOME/phieu)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    wr = sub.add_parser("write", help="ghi phiếu của một đơn vị (--unit) hoặc mọi đơn vị (--all) cho một tháng")
    who = wr.add_mutually_exclusive_group(required=True)
    who.add_argument("--unit", type=unit_code, help="mã định danh của đơn vị, ví dụ 000.00.00.H25")
    who.add_argument("--all", action="store_true", help="mọi đơn vị hiện nay")
    wr.add_argument("--month", type=year_month, required=True, help="tháng YYYY-MM, ví dụ 2026-10")
    wr.add_argument("--basis", choices=BASES, default="current",
                    help="current: theo đơn vị hiện nay (mặc định); historical: theo đơn vị tại thời điểm")
    wr.add_argument("--scope", choices=SCOPES, default="unit",
                    help="unit: số liệu của đơn vị (mặc định); area: cả địa bàn")
    wr.add_argument("--out", type=cli_args.output_file, help="ghi vào tệp này thay vì thư mục dữ liệu")
    wr.add_argument("--dir", type=cli_args.output_dir, help="thư mục phiếu (mặc định: $CHISO_HOME/phieu)")
    wr.set_defaults(func=cmd_write)
    cli_args.checked(wr, _check_write)
