"""Bad input at the door (issue 15): every malformed argument of every command is refused when parsed, with a
Vietnamese message and exit status 2, and nothing runs (no stack, no Airflow, no warehouse is touched)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from chiso import calendar_seed, cli, cli_args
from chiso.export import cli as export_cli
from chiso.settings import REPO_ROOT

TOMORROW = (cli_args.today() + timedelta(days=1)).isoformat()
TODAY = cli_args.today().isoformat()


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fail the test if a command gets past its arguments: every command reaches the stack or the export targets."""
    reached: list[str] = []

    def stack():
        reached.append("stack")
        raise RuntimeError("reached the stack")

    def targets():
        reached.append("targets")
        raise RuntimeError("reached the export targets")

    monkeypatch.setattr(cli, "_stack", stack)
    monkeypatch.setattr(export_cli, "targets", targets)
    return reached


def refused(argv: list[str], capsys) -> str:
    """Run the CLI; it must exit 2 at parse time. Returns the message line."""
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err  # argparse's usage line, then our message
    line = err.strip().splitlines()[-1]
    assert ": lỗi: " in line, err
    return line


# ---------------------------------------------------------------- chiso pipeline


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        # the case: the window ends before it starts
        (["--start", "2025-02-01", "--end", "2025-01-01"], "ngày bắt đầu 01/02/2025 sau ngày kết thúc 01/01/2025"),
        # dates that do not parse: wrong form, a day that does not exist, empty
        (["--start", "01/02/2025", "--end", "2025-02-28"], "ngày '01/02/2025' không đúng dạng YYYY-MM-DD"),
        (["--start", "2025-02-01", "--end", "2025-02-30"], "ngày '2025-02-30' không tồn tại trong lịch"),
        (["--start", "", "--end", "2025-02-28"], "không đúng dạng YYYY-MM-DD"),
        # outside the warehouse's calendar
        (["--start", "2018-12-31", "--end", "2019-01-31"], "nằm ngoài lịch của kho dữ liệu (01/01/2019–31/12/2030)"),
        # a window reaching into the future: no source has those days
        (["--start", TODAY, "--end", TOMORROW], "ở tương lai"),
        # missing or unknown arguments
        (["--start", "2025-01-01"], "thiếu tham số bắt buộc: --end"),
        (["--start", "2025-01-01", "--end", "2025-01-02", "--force"], "tham số không nhận ra: --force"),
        (["--start", "2025-01-01", "--end"], "tham số --end: cần đúng một giá trị"),
    ],
)
def test_pipeline_refuses_a_malformed_window(argv, expected, capsys, nothing_runs):
    line = refused(["pipeline", *argv], capsys)
    assert expected in line
    # the sub-command's usage names it; unknown options are reported by the top-level parser (argparse)
    assert line.startswith("chiso pipeline: lỗi: " if "không nhận ra" not in expected else "chiso: lỗi: ")
    assert nothing_runs == []


def test_pipeline_with_a_good_window_goes_on(nothing_runs):
    """The checks do not refuse a good window (one day, ending today): the command proceeds to the stack."""
    with pytest.raises(RuntimeError, match="reached the stack"):
        cli.main(["pipeline", "--start", TODAY, "--end", TODAY])
    with pytest.raises(RuntimeError, match="reached the stack"):
        cli.main(["pipeline", "--start", "2025-01-01", "--end", "2025-01-31"])
    assert nothing_runs == ["stack", "stack"]


# ---------------------------------------------------------------- chiso up --pipeline (the demo window of the settings)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CHISO_DEMO_START": "2025-03-01", "CHISO_DEMO_END": "2025-02-01"}, "01/03/2025 sau ngày kết thúc"),
        ({"CHISO_DEMO_START": "2025-03-01", "CHISO_DEMO_END": TOMORROW}, "ở tương lai"),
        ({"CHISO_DEMO_START": "1/3/2025", "CHISO_DEMO_END": "2025-03-31"}, "cấu hình không hợp lệ"),
        ({"CHISO_DEMO_START": "2010-01-01", "CHISO_DEMO_END": "2025-03-31"}, "CHISO_DEMO_START = 01/01/2010 nằm ngoài"),
    ],
)
def test_up_pipeline_refuses_a_bad_demo_window(env, expected, capsys, monkeypatch, nothing_runs):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert expected in refused(["up", "--pipeline"], capsys)
    assert nothing_runs == []


def test_up_without_pipeline_does_not_read_the_demo_window(monkeypatch, nothing_runs):
    monkeypatch.setenv("CHISO_DEMO_START", "2025-03-01")
    monkeypatch.setenv("CHISO_DEMO_END", "2025-02-01")
    with pytest.raises(RuntimeError, match="reached the stack"):
        cli.main(["up"])


def test_unknown_command_and_option(capsys, nothing_runs):
    assert "giá trị 'start' không hợp lệ (chọn một trong:" in refused(["start"], capsys)
    assert "tham số không nhận ra: --verbose" in refused(["status", "--verbose"], capsys)
    assert "thiếu tham số bắt buộc" in refused([], capsys)
    assert nothing_runs == []


# ---------------------------------------------------------------- chiso exports …


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["list", "--limit", "0"], "tham số --limit: cần một số nguyên dương (≥ 1), nhận 0"),
        (["list", "--limit", "-5"], "cần một số nguyên dương (≥ 1), nhận -5"),
        (["list", "--limit", "nhiều"], "tham số --limit: 'nhiều' không phải là số nguyên"),
        (["list", "--status", "sent"], "tham số --status: giá trị 'sent' không hợp lệ (chọn một trong: 'accepted'"),
        (["list", "--report", "BIEU_07"], "giá trị 'BIEU_07' không hợp lệ (chọn một trong: 'BIEU_06_TTHC'"),
        (["show", "abc"], "tham số id: 'abc' không phải là số nguyên"),
        (["show", "0"], "cần một số nguyên dương"),
        (["show"], "thiếu tham số bắt buộc: id"),
        (["resend", "-1"], "cần một số nguyên dương (≥ 1), nhận -1"),
        (["resend", "1.5"], "'1.5' không phải là số nguyên"),
        (["run", "--today", "2025-13-01"], "ngày '2025-13-01' không tồn tại trong lịch"),
        (["run", "--today", TOMORROW], "--today"),
        (["list", "--json", "--bogus"], "tham số không nhận ra: --bogus"),
        (["send"], "giá trị 'send' không hợp lệ"),
    ],
)
def test_exports_refuse_malformed_arguments(argv, expected, capsys, nothing_runs):
    line = refused(["exports", *argv], capsys)
    assert expected in line
    if argv[0] == "run" and "--today" in argv and argv[-1] == TOMORROW:
        assert "ở tương lai" in line
    assert nothing_runs == []


def test_exports_run_refuses_an_output_that_is_not_a_folder(tmp_path, capsys, nothing_runs):
    a_file = tmp_path / "x.json"
    a_file.write_text("{}")
    assert f"tham số --out: '{a_file}' đã có và không phải là thư mục" in refused(
        ["exports", "run", "--out", str(a_file)], capsys
    )
    assert "không tạo được thư mục" in refused(["exports", "run", "--out", str(a_file / "sub")], capsys)
    assert nothing_runs == []


def test_exports_good_arguments_go_on(tmp_path, nothing_runs):
    for argv in (
        ["list", "--limit", "5", "--status", "pending"],
        ["show", "7"],
        ["resend", "7"],
        ["run", "--today", TODAY, "--out", str(tmp_path / "new")],
    ):
        with pytest.raises(RuntimeError, match="reached the export targets"):
            cli.main(["exports", *argv])
    assert nothing_runs == ["targets"] * 4


# ---------------------------------------------------------------- python -m chiso.calendar_seed


def test_calendar_seed_refuses_a_path_it_cannot_write(tmp_path, capsys):
    for path, expected in ((tmp_path / "missing" / "x.csv", "không tồn tại"), (tmp_path, "là một thư mục")):
        with pytest.raises(SystemExit) as e:
            calendar_seed.main(["--check", "--path", str(path)])
        assert e.value.code == 2
        assert expected in capsys.readouterr().err


# ---------------------------------------------------------------- the calendar bounds


def test_calendar_bounds_are_the_warehouse_calendar():
    dbt_vars = yaml.safe_load((REPO_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    assert cli_args.CALENDAR_FIRST_DAY.isoformat() == dbt_vars["calendar_start"]
    assert cli_args.CALENDAR_LAST_DAY.isoformat() == dbt_vars["calendar_end"]


def test_every_argparse_entry_point_uses_the_checked_parser():
    """A new command line cannot forget: argparse.ArgumentParser( appears only in chiso.cli_args."""
    for path in sorted(Path(REPO_ROOT / "src" / "chiso").rglob("*.py")):
        if path.name == "cli_args.py":
            continue
        assert not re.search(r"\bArgumentParser\(", path.read_text(encoding="utf-8")), path
