"""Results of a validation and the Vietnamese messages the data engineer reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ExpectationOutcome:
    suite: str
    asset: str
    name: str
    expectation_type: str
    severity: str  # critical | warning
    success: bool
    description_vi: str
    message_vi: str
    mostly: float | None = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: str | None = None
    unexpected_sample: list[Any] = field(default_factory=list)
    error: str | None = None


@dataclass
class QualityOutcome:
    suite: str
    layer: str
    run_id: str
    window: tuple[date, date] | None
    started_at: datetime
    finished_at: datetime
    results: list[ExpectationOutcome]
    data_docs_index: Path | None = None

    @property
    def critical_failures(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success and r.severity == "critical"]

    @property
    def warnings(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success and r.severity == "warning"]

    @property
    def success(self) -> bool:
        return not self.critical_failures

    def result(self, name: str) -> ExpectationOutcome:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def summary_vi(self) -> str:
        w = f" cho {_window_vi(self.window)}" if self.window else ""
        return (
            f"Bộ kiểm tra '{self.suite}'{w}: {len(self.results)} kiểm tra, "
            f"{len(self.critical_failures)} lỗi nghiêm trọng, {len(self.warnings)} cảnh báo."
        )


class QualityGateError(Exception):
    """Critical expectations failed: downstream transforms must not run on this data."""

    def __init__(self, outcome: QualityOutcome):
        self.outcome = outcome
        lines = [outcome.summary_vi(), "Các kiểm tra nghiêm trọng không đạt (dữ liệu chưa được dùng để tính chỉ số):"]
        lines += [f"  - [{r.name}] {r.message_vi}" for r in outcome.critical_failures]
        if outcome.warnings:
            lines.append("Cảnh báo (không chặn luồng xử lý):")
            lines += [f"  - [{r.name}] {r.message_vi}" for r in outcome.warnings]
        if outcome.data_docs_index:
            lines.append(f"Chi tiết: Data Docs {outcome.data_docs_index}")
        super().__init__("\n".join(lines))


def raise_on_critical(outcome: QualityOutcome) -> QualityOutcome:
    """Raise QualityGateError when a critical expectation failed; warnings pass (they are stored and
    shown on the dashboard). Returns the outcome so a task can chain it."""
    if outcome.critical_failures:
        raise QualityGateError(outcome)
    return outcome


def _window_vi(window: tuple[date, date]) -> str:
    return f"{window[0]:%d/%m/%Y}–{window[1]:%d/%m/%Y}"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def format_sample(sample: list[Any], limit: int = 3) -> str:
    parts = []
    for item in sample[:limit]:
        if isinstance(item, dict):
            parts.append("(" + ", ".join(f"{k}={_fmt(v)}" for k, v in item.items()) + ")")
        elif isinstance(item, list | tuple):
            parts.append("(" + ", ".join(_fmt(v) for v in item) + ")")
        else:
            parts.append(_fmt(item))
    more = f" và {len(sample) - limit} mẫu khác" if len(sample) > limit else ""
    return "; ".join(parts) + more


def message_vi(
    *,
    description: str,
    success: bool,
    is_sql: bool,
    element_count: int | None,
    unexpected_count: int | None,
    unexpected_percent: float | None,
    mostly: float | None,
    observed_value: str | None,
    sample: list[Any],
    hint: str = "",
    error: str | None = None,
) -> str:
    if error:
        return f"{description} — KHÔNG CHẠY ĐƯỢC kiểm tra: {error}"
    if success:
        if is_sql:
            return f"{description} — đạt."
        if element_count is not None and unexpected_count:
            return (
                f"{description} — đạt trong ngưỡng: {unexpected_count:,} / {element_count:,} dòng vi phạm "
                f"({unexpected_percent or 0:.2f}%)."
            )
        if element_count is not None:
            return f"{description} — đạt ({element_count:,} dòng đã kiểm tra)."
        return f"{description} — đạt."
    if is_sql:
        msg = f"{description} — KHÔNG ĐẠT: {observed_value} trường hợp vi phạm"
    elif unexpected_count is not None and element_count is not None:
        msg = (
            f"{description} — KHÔNG ĐẠT: {unexpected_count:,} / {element_count:,} dòng vi phạm "
            f"({unexpected_percent or 0:.2f}%"
        )
        msg += f"; cho phép tối đa {100 * (1 - mostly):.2f}%)" if mostly is not None and mostly < 1 else ")"
    else:
        msg = f"{description} — KHÔNG ĐẠT (giá trị quan sát: {observed_value})"
    if sample:
        msg += f". Ví dụ: {format_sample(sample)}"
    msg += "."
    if hint:
        msg += f" Gợi ý: {hint}"
    return msg
