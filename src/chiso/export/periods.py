"""Reporting periods of the two national reports: which mart periods go where, and when one is due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

BIEU_06 = "BIEU_06_TTHC"
CHI_SO_CDS = "CHI_SO_CDS"
REPORTS = (BIEU_06, CHI_SO_CDS)

# mart period_type -> loaiKy of the national schema
LOAI_KY = {
    "report_month": "THANG",
    "report_quarter": "QUY",
    "report_half": "SAU_THANG",
    "report_nine_months": "CHIN_THANG",
    "report_year": "NAM",
    "month": "THANG",
    "quarter": "QUY",
    "year": "NAM",
}
PERIOD_TYPES = {
    BIEU_06: ("report_month", "report_quarter", "report_half", "report_nine_months", "report_year"),
    CHI_SO_CDS: ("month", "quarter", "year"),
}
# The finest period type of each calendar: every period of that calendar ends the day before one of these
# starts (calendar periods end on a month end; Decree 09 windows end on a 14th).
FINEST = {BIEU_06: "report_month", CHI_SO_CDS: "month"}

LOAI_KY_VI = {"THANG": "Tháng", "QUY": "Quý", "SAU_THANG": "6 tháng", "CHIN_THANG": "9 tháng", "NAM": "Năm"}
REPORT_NAME_VI = {
    BIEU_06: "Biểu 06/VPCP/KSTT — Tình hình, kết quả giải quyết TTHC",
    CHI_SO_CDS: "Chỉ số chuyển đổi số đo tự động (QĐ 766, văn bản điện tử, chữ ký số)",
}


@dataclass(frozen=True, order=True)
class Period:
    report: str
    period_type: str
    period_start: date
    period_end: date
    # Last day the marts evaluated this period to (their `evaluated_to`): = period_end once complete.
    evaluated_to: date | None = field(default=None, compare=False)

    @property
    def ky_bao_cao(self) -> dict:
        """`kyBaoCao`: Decree 09 windows are named after the year and month/quarter they close in."""
        loai = LOAI_KY[self.period_type]
        ky: dict = {"loaiKy": loai, "nam": self.period_end.year}
        if loai == "THANG":
            ky["so"] = self.period_end.month
        elif loai == "QUY":
            ky["so"] = (self.period_end.month - 1) // 3 + 1
        ky["tuNgay"] = self.period_start.isoformat()
        ky["denNgay"] = self.period_end.isoformat()
        return ky

    @property
    def label_vi(self) -> str:
        ky = self.ky_bao_cao
        so = f" {ky['so']}" if "so" in ky else ""
        return f"{LOAI_KY_VI[ky['loaiKy']]}{so} năm {ky['nam']} ({ky['tuNgay']} → {ky['denNgay']})"

    def slug(self) -> str:
        ky = self.ky_bao_cao
        so = f"_{ky['so']:02d}" if "so" in ky else ""
        return f"{self.report}_{ky['loaiKy']}_{ky['nam']}{so}_{self.period_start:%Y%m%d}"


def is_due(period: Period, today: date) -> bool:
    """A report for a period is due once the period (for Decree 09 windows: the 14th cut-off) has passed."""
    return today > period.period_end


def complete_periods(
    periods: list[Period], *, data_from: date | None = None, data_through: date | None = None
) -> list[Period]:
    """Periods whose every day lies inside the loaded data.

    The marts hold every period that contains at least one day of data. The end is covered when the
    marts evaluated the period to its end (`evaluated_to`), or, for marts without that column, when a
    period of the same calendar starts after it (data exists on a later day); or `data_through` says so.
    The start is covered when it is on or after `data_from`; without it, the first day is estimated as
    the later of the two calendars' first finest periods (a calendar month starts on the 1st, a Decree 09
    window on the 15th, and data exists in both), which is exact when loading began on a 1st or a 15th.
    """
    latest: dict[str, date] = {}
    earliest: dict[str, date] = {}
    for p in periods:
        if p.period_type == FINEST[p.report]:
            latest[p.report] = max(latest.get(p.report, p.period_start), p.period_start)
            earliest[p.report] = min(earliest.get(p.report, p.period_start), p.period_start)
    start = data_from or (max(earliest.values()) if earliest else None)
    out = []
    for p in periods:
        if p.evaluated_to is not None:
            end_ok = p.evaluated_to >= p.period_end
        else:
            later = latest.get(p.report)
            end_ok = later is not None and later > p.period_end
        end_ok = end_ok or (data_through is not None and data_through >= p.period_end)
        if end_ok and (start is None or p.period_start >= start):
            out.append(p)
    return out
