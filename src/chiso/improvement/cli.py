"""`chiso phieu list | write`: the "Phiếu cải thiện chỉ số" kept under the data folder.

The warehouse is reached as the exporter reaches it (AIRFLOW_CONN_WAREHOUSE_DB, else the local stack's default),
on a read-only connection: the sheets read the marts only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

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


def _fail(message: str, code: int = 2) -> int:
    print(f"Lỗi: {message}", file=sys.stderr)
    return code


def cmd_list(args: argparse.Namespace) -> int:
    from chiso.improvement import runner
    from chiso.improvement.sheet import SheetError, parse_month

    try:
        month = parse_month(args.month) if args.month else None
    except SheetError as e:
        return _fail(str(e))
    out = args.dir or runner.default_dir()
    rows = runner.list_sheets(out, month=month, unit_code=args.unit)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print(f"Chưa có phiếu nào trong {out}" + (f" cho tháng {args.month}" if args.month else "") + ".")
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
    from chiso.improvement.sheet import SheetError, parse_month

    if not args.month:
        return _fail("thiếu tháng: --month NNNN-TT, ví dụ --month 2026-10.")
    if bool(args.unit) == bool(args.all):
        return _fail("chọn một đơn vị (--unit <mã định danh>) hoặc mọi đơn vị (--all).")
    if args.all and (args.basis != "current" or args.scope != "unit" or args.out):
        return _fail("--all ghi phiếu của mọi đơn vị hiện nay (số liệu của đơn vị) vào thư mục dữ liệu;"
                     " --basis, --scope và --out chỉ dùng với --unit.")
    try:
        month = parse_month(args.month)
    except SheetError as e:
        return _fail(str(e))
    try:
        out = args.dir or runner.default_dir()
        if args.all:
            summary = runner.write_months(warehouse_uri(), out, [month])
            print(summary.describe())
            return 0
        path = runner.write_one(
            warehouse_uri(), args.unit.strip(), month, out, basis=args.basis, scope=args.scope, path=args.out
        )
    except SheetError as e:
        return _fail(str(e), 1)
    except psycopg.OperationalError as e:
        return _fail(f"không kết nối được kho dữ liệu ({str(e).strip().splitlines()[0]}). Kho đã chạy chưa"
                     " (`./chiso status`)?", 1)
    print(f"Đã ghi phiếu cải thiện chỉ số: {path}")
    return 0


def register(subparsers) -> None:
    """Add `phieu …` to the chiso CLI's subparsers (each leaf sets `func`)."""
    p = subparsers.add_parser("phieu", help="phiếu cải thiện chỉ số của đơn vị theo tháng (XLSX): xem, ghi")
    sub = p.add_subparsers(dest="phieu_command", required=True)

    ls = sub.add_parser("list", help="các phiếu đã ghi trong thư mục dữ liệu")
    ls.add_argument("--month", help="tháng NNNN-TT, ví dụ 2026-10")
    ls.add_argument("--unit", help="mã định danh của đơn vị")
    ls.add_argument("--dir", type=Path, help="thư mục phiếu (mặc định: $CHISO_HOME/phieu)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    wr = sub.add_parser("write", help="ghi phiếu của một đơn vị (--unit) hoặc mọi đơn vị (--all) cho một tháng")
    wr.add_argument("--unit", help="mã định danh của đơn vị, ví dụ 000.00.00.H25")
    wr.add_argument("--all", action="store_true", help="mọi đơn vị hiện nay")
    wr.add_argument("--month", help="tháng NNNN-TT, ví dụ 2026-10")
    wr.add_argument("--basis", choices=BASES, default="current",
                    help="current: theo đơn vị hiện nay (mặc định); historical: theo đơn vị tại thời điểm")
    wr.add_argument("--scope", choices=SCOPES, default="unit",
                    help="unit: số liệu của đơn vị (mặc định); area: cả địa bàn")
    wr.add_argument("--out", type=Path, help="ghi vào tệp này thay vì thư mục dữ liệu")
    wr.add_argument("--dir", type=Path, help="thư mục phiếu (mặc định: $CHISO_HOME/phieu)")
    wr.set_defaults(func=cmd_write)
