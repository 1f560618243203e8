"""Arguments refused at the door: every command line of chiso is checked when it is parsed, before anything runs.

A malformed argument (a date that does not parse, a window that ends before it starts or lies in the future, an id
that is not a positive number, a code that is not one of the known ones, a path that cannot be the output) ends the
command at once with a Vietnamese message and exit status 2 (argparse's convention), so nothing is triggered that
would fail later. Types check one value (`iso_date`, `positive_int`, ...); `Check`s compare values once all are
parsed (`Parser.parse_args` runs the one the chosen sub-command registered with `set_defaults(check=...)`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import NoReturn
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# The warehouse's calendar (dbt_project.yml vars calendar_start / calendar_end; tests/unit/test_cli_args.py checks
# they agree): days outside it have no calendar row, so no period, working day or holiday.
CALENDAR_FIRST_DAY = date(2019, 1, 1)
CALENDAR_LAST_DAY = date(2030, 12, 31)

# A check of the parsed namespace: an error message, or None when the arguments hang together.
Check = Callable[[argparse.Namespace], "str | None"]


def today() -> date:
    """The province's today (Asia/Ho_Chi_Minh), against which 'in the future' is judged."""
    return datetime.now(TZ).date()


# ---------------------------------------------------------------- one value


def iso_date(text: str) -> date:
    """A calendar day written YYYY-MM-DD, inside the warehouse's calendar."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
        raise argparse.ArgumentTypeError(f"ngày '{text}' không đúng dạng YYYY-MM-DD (ví dụ 2025-01-31)")
    try:
        d = date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"ngày '{text}' không tồn tại trong lịch") from None
    if not CALENDAR_FIRST_DAY <= d <= CALENDAR_LAST_DAY:
        raise argparse.ArgumentTypeError(
            f"ngày {d:%d/%m/%Y} nằm ngoài lịch của kho dữ liệu "
            f"({CALENDAR_FIRST_DAY:%d/%m/%Y}–{CALENDAR_LAST_DAY:%d/%m/%Y})"
        )
    return d


def positive_int(text: str) -> int:
    """A whole number ≥ 1 (an id, a count, a limit)."""
    try:
        n = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' không phải là số nguyên") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"cần một số nguyên dương (≥ 1), nhận {n}")
    return n


def output_dir(text: str) -> Path:
    """A folder to write into: an existing folder, or a path whose nearest existing parent is a folder."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' đã có và không phải là thư mục")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if not path.exists() and (parent is None or not parent.is_dir()):
        raise argparse.ArgumentTypeError(f"không tạo được thư mục '{text}'")
    return path


def output_file(text: str) -> Path:
    """A file to write: not a folder, in an existing folder."""
    path = Path(text).expanduser()
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"'{text}' là một thư mục, cần đường dẫn tệp")
    if not path.absolute().parent.is_dir():
        raise argparse.ArgumentTypeError(f"thư mục '{path.parent}' không tồn tại")
    return path


# ---------------------------------------------------------------- values together


def window_problem(start: date, end: date, *, what: str = "cửa sổ") -> str | None:
    """A load window [start, end]: in order and not beyond today (no source holds data of a day to come)."""
    if start > end:
        return f"{what} không hợp lệ: ngày bắt đầu {start:%d/%m/%Y} sau ngày kết thúc {end:%d/%m/%Y}"
    now = today()
    if end > now:
        return f"{what} không hợp lệ: ngày kết thúc {end:%d/%m/%Y} ở tương lai (hôm nay là {now:%d/%m/%Y})"
    return None


def not_in_future(d: date, *, what: str) -> str | None:
    now = today()
    if d > now:
        return f"{what} {d:%d/%m/%Y} ở tương lai (hôm nay là {now:%d/%m/%Y})"
    return None


# ---------------------------------------------------------------- the parser

# argparse's own messages (Python 3.11), in Vietnamese.
_MESSAGES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"the following arguments are required: (.*)"), r"thiếu tham số bắt buộc: \1"),
    (re.compile(r"unrecognized arguments: (.*)"), r"tham số không nhận ra: \1"),
    (re.compile(r"invalid choice: (.*) \(choose from (.*)\)"), r"giá trị \1 không hợp lệ (chọn một trong: \2)"),
    (re.compile(r"expected one argument"), "cần đúng một giá trị"),
    (re.compile(r"expected at most one argument"), "cần nhiều nhất một giá trị"),
    (re.compile(r"expected at least one argument"), "cần ít nhất một giá trị"),
    (re.compile(r"invalid (\S+) value: (.*)"), r"giá trị \2 không hợp lệ"),
    (re.compile(r"not allowed with argument (.*)"), r"không dùng cùng tham số \1"),
    (re.compile(r"ignored explicit argument (.*)"), r"tham số này không nhận giá trị \1"),
    (re.compile(r"ambiguous option: (\S+) could match (.*)"), r"tùy chọn \1 không rõ: có thể là \2"),
    (re.compile(r"one of the arguments (.*) is required"), r"cần một trong các tham số \1"),
]


def vietnamese(message: str) -> str:
    """An argparse error message in Vietnamese ('argument X: …' becomes 'tham số X: …')."""
    prefix = ""
    m = re.match(r"argument (\S+?): (.*)", message, flags=re.S)
    if m:
        prefix, message = f"tham số {m.group(1)}: ", m.group(2)
    for pattern, replacement in _MESSAGES:
        if pattern.fullmatch(message):
            message = pattern.sub(replacement, message)
            break
    return prefix + message


class Parser(argparse.ArgumentParser):
    """argparse with Vietnamese errors and a check of the parsed values together. Sub-parsers are of this class
    too (argparse creates them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: lỗi: {vietnamese(message)}\n")

    def parse_args(self, args=None, namespace=None):  # type: ignore[override]
        ns = super().parse_args(args, namespace)
        check: Check | None = getattr(ns, "check", None)
        if check is not None:
            problem = check(ns)
            if problem:
                getattr(ns, "parser", self).error(problem)
        return ns


def checked(sub: argparse.ArgumentParser, check: Check) -> None:
    """Register `check` for a sub-command; its error names that sub-command's usage."""
    sub.set_defaults(check=check, parser=sub)
