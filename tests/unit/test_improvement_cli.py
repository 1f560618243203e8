"""`chiso phieu …` refuses malformed arguments when they are parsed (Vietnamese message, exit 2), before the
warehouse is reached; good ones go on to it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chiso import cli, cli_args
from chiso.improvement import cli as phieu_cli

NEXT_MONTH = (cli_args.today().replace(day=1) + timedelta(days=32)).strftime("%Y-%m")


@pytest.fixture
def nothing_runs(monkeypatch):
    reached: list[str] = []

    def warehouse_uri():
        reached.append("warehouse")
        raise RuntimeError("reached the warehouse")

    monkeypatch.setattr(phieu_cli, "warehouse_uri", warehouse_uri)
    return reached


def refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as e:
        cli.main(["phieu", *argv])
    assert e.value.code == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert ": lỗi: " in line
    return line


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["write", "--unit", "000.00.00.H25", "--month", "2026-13"], "tháng '2026-13' không đúng dạng YYYY-MM"),
        (["write", "--unit", "000.00.00.H25", "--month", "10/2026"], "tháng '10/2026' không đúng dạng YYYY-MM"),
        (["write", "--unit", "000.00.00.H25", "--month", "2026-1"], "không đúng dạng YYYY-MM"),
        (["write", "--unit", "000.00.00.H25", "--month", "2018-12"], "tháng 12/2018 nằm ngoài lịch của kho dữ liệu"),
        (["write", "--unit", "000.00.00.H25", "--month", NEXT_MONTH], "chưa bắt đầu"),
        (["write", "--unit", "000.00.00.H25"], "thiếu tham số bắt buộc: --month"),
        (["write", "--month", "2026-10"], "cần một trong các tham số --unit --all"),
        (["write", "--unit", "X", "--all", "--month", "2026-10"], "không dùng cùng tham số --unit"),
        (["write", "--unit", "UBND xã", "--month", "2026-10"], "mã định danh 'UBND xã' không hợp lệ"),
        (["write", "--all", "--month", "2026-10", "--basis", "historical"], "--out chỉ dùng với --unit"),
        (["write", "--unit", "000.00.00.H25", "--month", "2026-10", "--basis", "past"], "giá trị 'past' không hợp lệ"),
        (["list", "--month", "2026/10"], "tháng '2026/10' không đúng dạng YYYY-MM"),
        (["print"], "giá trị 'print' không hợp lệ"),
    ],
)
def test_malformed_arguments_are_refused(argv, expected, capsys, nothing_runs):
    assert expected in refused(argv, capsys)
    assert nothing_runs == []


def test_an_output_that_is_a_folder_is_refused(tmp_path, capsys, nothing_runs):
    line = refused(["write", "--unit", "000.00.00.H25", "--month", "2026-10", "--out", str(tmp_path)], capsys)
    assert "là một thư mục, cần đường dẫn tệp" in line


def test_good_arguments_reach_the_warehouse(tmp_path, nothing_runs):
    for argv in (
        ["--unit", "000.00.00.H25", "--month", "2026-10"],
        ["--unit", "000.10.12.H26", "--month", "2024-02", "--basis", "historical", "--scope", "area",
         "--out", str(tmp_path / "x.xlsx")],
        ["--all", "--month", "2026-10", "--dir", str(tmp_path / "new")],
    ):
        with pytest.raises(RuntimeError, match="reached the warehouse"):
            cli.main(["phieu", "write", *argv])
    assert nothing_runs == ["warehouse"] * 3


def test_list_reads_only_the_folder(tmp_path, capsys, nothing_runs):
    assert cli.main(["phieu", "list", "--dir", str(tmp_path), "--month", "2026-10"]) == 0
    assert "Chưa có phiếu nào" in capsys.readouterr().out
    assert nothing_runs == []
