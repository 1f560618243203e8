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
    # marts.dim_periods.is_complete: every day of the period has a successful load of every source.
    is_complete: bool = field(default=False, compare=False)

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


def complete_periods(periods: list[Period]) -> list[Period]:
    """The periods the marts say are complete (`marts.dim_periods.is_complete`, from the load audits).

    Nothing is inferred here: a period whose first days were never loaded holds data on its other days, so only
    the warehouse's record of which days every source loaded can tell (warehouse.md, `dim_periods`)."""
    return [p for p in periods if p.is_complete]
