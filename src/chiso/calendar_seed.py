"""Generate seeds/vn_public_holidays.csv from the `holidays` package (country VN, Vietnamese names).

The seed is committed so dbt needs no Python; tests/dbt checks it still equals this script's output.
Late-announced changes the package does not know yet go to seeds/calendar_overrides.csv instead.

    python -m chiso.calendar_seed            # rewrite the seed
    python -m chiso.calendar_seed --check    # exit 1 when the committed seed is stale
"""

from __future__ import annotations

import argparse
import csv
import io
import sys

import holidays

from chiso.cli_args import Parser, output_file
from chiso.settings import REPO_ROOT

# The warehouse's years: dim_calendar spans the same range (dbt var calendar_start / calendar_end).
FIRST_YEAR = 2019
LAST_YEAR = 2030
SEED_PATH = REPO_ROOT / "seeds" / "vn_public_holidays.csv"
HEADER = ("calendar_date", "day_kind", "name_vi")


def build_rows(first_year: int = FIRST_YEAR, last_year: int = LAST_YEAR) -> list[tuple[str, str, str]]:
    vn = holidays.country_holidays("VN", years=range(first_year, last_year + 1), language="vi")
    rows = [(d.isoformat(), "holiday", name) for d, name in vn.items()]
    # Weekend days worked in exchange for a bridge day off (e.g. Saturday 2024-05-04 for Monday 2024-04-29).
    rows += [(d.isoformat(), "make_up_working_day", "Ngày làm việc bù") for d in vn.weekend_workdays]
    # A swap can reach into the year before (2015's make-up day is 2014-12-27): keep the range exact.
    return sorted(r for r in rows if first_year <= int(r[0][:4]) <= last_year)


def render(rows: list[tuple[str, str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--path", type=output_file, default=SEED_PATH)
    args = parser.parse_args(argv)
    text = render(build_rows())
    if args.check:
        current = args.path.read_text(encoding="utf-8") if args.path.exists() else ""
        if current != text:
            print(f"{args.path} is stale: run python -m chiso.calendar_seed", file=sys.stderr)
            return 1
        return 0
    args.path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
