"""Write the month's sheets of every unit and keep them listed.

Files live under `<out_dir>/<YYYY-MM>/`, with a `danh_sach.json` per month (file name -> unit, fingerprint of the
figures, when written), so a scheduled run rewrites only the sheets whose figures changed and `chiso phieu list`
needs no workbook opened.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from chiso.improvement import sheet as sh

log = logging.getLogger(__name__)

MANIFEST = "danh_sach.json"
# Months a scheduled run refreshes: the latest month with data and the one before (its figures can still change
# while late rows arrive); older months are written on request (`chiso phieu write`).
RECENT_MONTHS = 2


def default_dir() -> Path:
    if os.environ.get("CHISO_PHIEU_DIR"):
        return Path(os.environ["CHISO_PHIEU_DIR"])
    from chiso.settings import Settings

    return Settings().home / "phieu"


def _manifest(folder: Path) -> dict[str, dict]:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def _save_manifest(folder: Path, entries: dict[str, dict]) -> None:
    tmp = folder / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(entries, ensure_ascii=False, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(folder / MANIFEST)


def _record(path: Path, s: sh.Sheet) -> None:
    entries = _manifest(path.parent)
    entries[path.name] = {
        "unit_code": s.unit_code,
        "unit_name": s.unit_name,
        "month": sh.month_text(s.month),
        "basis": s.basis,
        "scope": s.scope,
        "fingerprint": s.fingerprint(),
        "written_at": datetime.now().isoformat(timespec="seconds"),
    }
    _save_manifest(path.parent, entries)


def write_one(
    warehouse_uri: str,
    unit_code: str,
    month: date,
    out_dir: Path,
    *,
    basis: str = "current",
    scope: str = "unit",
    path: Path | None = None,
) -> Path:
    """One unit's sheet of a month; kept under out_dir unless a path is given."""
    with sh.connect(warehouse_uri) as conn:
        s = sh.load(conn, unit_code, month, basis=basis, scope=scope)
    target = path or sh.sheet_path(out_dir, unit_code, month, basis, scope)
    sh.write(s, target)
    if path is None:
        _record(target, s)
    return target


@dataclass
class RunSummary:
    months: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    unchanged: int = 0

    def describe(self) -> str:
        return (
            f"Phiếu cải thiện chỉ số, tháng {', '.join(self.months) or '—'}: ghi {len(self.written)} tệp,"
            f" {self.unchanged} tệp không đổi số liệu"
        )

    def to_dict(self) -> dict:
        return {"months": self.months, "written": len(self.written), "unchanged": self.unchanged}


def write_months(
    warehouse_uri: str, out_dir: Path, months: list[date] | None = None, *, recent: int = RECENT_MONTHS
) -> RunSummary:
    """Every unit's sheet (today's units, own figures) for `months`, or the `recent` latest months with data;
    a sheet whose figures did not change since it was written is left as it is."""
    summary = RunSummary()
    with sh.connect(warehouse_uri) as conn:
        available = sh.months_with_data(conn)
        chosen = months if months is not None else available[-recent:]
        for month in chosen:
            if month not in available:
                raise sh.SheetError(f"Kho chưa có số liệu tháng {month:%m/%Y}.")
            summary.months.append(sh.month_text(month))
            sheets = sh.load_month(conn, month)
            folder = out_dir / sh.month_text(month)
            known = _manifest(folder)
            for code, s in sorted(sheets.items()):
                path = sh.sheet_path(out_dir, code, month)
                if path.exists() and known.get(path.name, {}).get("fingerprint") == s.fingerprint():
                    summary.unchanged += 1
                    continue
                sh.write(s, path)
                _record(path, s)
                summary.written.append(str(path))
    log.info("%s", summary.describe())
    return summary


def list_sheets(out_dir: Path, *, month: date | None = None, unit_code: str | None = None) -> list[dict]:
    """The sheets kept under out_dir, newest month first, then by unit code."""
    found = []
    folders = [out_dir / sh.month_text(month)] if month else sorted(out_dir.glob("????-??"), reverse=True)
    for folder in folders:
        entries = _manifest(folder)
        for path in sorted(folder.glob("*.xlsx")):
            e = entries.get(path.name, {})
            code = e.get("unit_code") or path.name.split(".xlsx")[0]
            if unit_code and code != unit_code:
                continue
            found.append(
                {
                    "month": folder.name,
                    "unit_code": code,
                    "unit_name": e.get("unit_name"),
                    "basis": e.get("basis"),
                    "scope": e.get("scope"),
                    "written_at": e.get("written_at"),
                    "size": path.stat().st_size,
                    "path": str(path),
                }
            )
    return found
