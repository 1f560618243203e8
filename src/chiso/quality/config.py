"""Quality suites as configuration: one YAML file per suite in `expectations/`.

Parsing and checking the configuration needs no Great Expectations import, so DAG files and the
CLI can list suites cheaply. A suite has named assets (SQL that selects the rows to check, with
`$window_start` / `$window_end` placeholders) and expectations, each with a stable name, a
Vietnamese description, a severity and, for row-level checks, a `mostly` threshold.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from string import Template
from typing import Any

import yaml

from chiso.settings import REPO_ROOT

SEVERITIES = ("critical", "warning")
LAYERS = ("raw", "staging", "marts")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")

# GX expectation classes whose results count rows one by one and so accept `mostly`.
ROW_LEVEL_TYPES = {
    "ExpectColumnValuesToNotBeNull",
    "ExpectColumnValuesToBeBetween",
    "ExpectColumnValuesToBeInSet",
    "ExpectColumnValuesToNotBeInSet",
    "ExpectColumnValuesToBeUnique",
    "ExpectColumnValuesToMatchRegex",
    "ExpectCompoundColumnsToBeUnique",
    "ExpectColumnPairValuesAToBeGreaterThanB",
    "ExpectColumnPairValuesToBeEqual",
    "ExpectMulticolumnSumToEqual",
}
SQL_TYPE = "UnexpectedRowsExpectation"
TABLE_LEVEL_TYPES = {"ExpectTableRowCountToBeBetween", "ExpectColumnToExist", "ExpectTableColumnsToMatchSet"}
SUPPORTED_TYPES = ROW_LEVEL_TYPES | TABLE_LEVEL_TYPES | {SQL_TYPE}


class QualityConfigError(ValueError):
    """A suite file is malformed; the message names the file and the entry."""


def expectations_dir() -> Path:
    return Path(os.environ.get("CHISO_EXPECTATIONS_DIR") or REPO_ROOT / "expectations")


@dataclass(frozen=True)
class AssetSpec:
    name: str
    query: str  # SELECT ...; may use $window_start / $window_end
    key_columns: tuple[str, ...] = ()  # identify an offending row in samples and messages
    description_vi: str = ""


@dataclass(frozen=True)
class ExpectationSpec:
    name: str  # stable: results are compared across runs by this name
    asset: str
    type: str
    kwargs: dict[str, Any]
    severity: str
    description_vi: str
    hint_vi: str = ""
    mostly: float | None = None
    sample_columns: tuple[str, ...] = ()  # shown beside the asset's key columns for an offending row

    @property
    def is_sql(self) -> bool:
        return self.type == SQL_TYPE


@dataclass(frozen=True)
class SuiteSpec:
    name: str
    layer: str
    description_vi: str
    assets: dict[str, AssetSpec]
    expectations: tuple[ExpectationSpec, ...]
    path: Path | None = None
    windowed: bool = True  # False: snapshots (unit register, catalogue) are checked whole

    def for_asset(self, asset: str) -> list[ExpectationSpec]:
        return [e for e in self.expectations if e.asset == asset]

    def reads_raw(self, name: str) -> bool:
        """Whether a check compares with the raw layer (its asset's query or its own SQL reads `raw.`): such a
        check fails when raw moved on after the data it checks was built, without anything being wrong."""
        spec = next(e for e in self.expectations if e.name == name)
        sql = self.assets[spec.asset].query + str(spec.kwargs.get("unexpected_rows_query", ""))
        return re.search(r"\braw\.", sql) is not None


def window_params(window: tuple[date, date] | None) -> dict[str, str]:
    """SQL literals for the placeholders; no window = everything (PostgreSQL's infinite dates)."""
    if window is None:
        return {"window_start": "'-infinity'::date", "window_end": "'infinity'::date"}
    start, end = window
    if start > end:
        raise ValueError(f"cửa sổ ngày không hợp lệ: {start} > {end}")
    return {"window_start": f"DATE '{start.isoformat()}'", "window_end": f"DATE '{end.isoformat()}'"}


def render_sql(sql: str, window: tuple[date, date] | None) -> str:
    # Template.substitute fails loudly on an unknown $name; GX's own {batch} braces are left alone.
    return Template(sql).substitute(window_params(window)).strip().rstrip(";")


def _req(d: dict, key: str, where: str) -> Any:
    if key not in d or d[key] in (None, ""):
        raise QualityConfigError(f"{where}: thiếu khoá bắt buộc '{key}'")
    return d[key]


def _expand(raw: dict, where: str) -> list[dict]:
    """`for_columns: [a, b]` expands one entry into one expectation per column (`name__a`, ...); as a mapping
    (`{a: nhãn a}`) the description names each column by its Vietnamese label, which the quality dashboard shows."""
    cols = raw.get("for_columns")
    if not cols:
        return [raw]
    labels = cols if isinstance(cols, dict) else {c: c for c in cols}
    out = []
    for col, label in labels.items():
        item = {k: v for k, v in raw.items() if k != "for_columns"}
        item["name"] = f"{raw['name']}__{col}"
        item["kwargs"] = {**(raw.get("kwargs") or {}), "column": col}
        item["description_vi"] = str(raw.get("description_vi", "")).replace("{column}", str(label))
        out.append(item)
    return out


def parse_suite(data: dict, path: Path | None = None) -> SuiteSpec:
    where = str(path or "<suite>")
    name = _req(data, "suite", where)
    layer = _req(data, "layer", where)
    if layer not in LAYERS:
        raise QualityConfigError(f"{where}: layer '{layer}' không thuộc {LAYERS}")
    assets_raw = _req(data, "assets", where)
    assets: dict[str, AssetSpec] = {}
    for aname, a in assets_raw.items():
        q = str(_req(a, "query", f"{where} asset {aname}"))
        if not q.lstrip().upper().startswith(("SELECT", "WITH")):
            raise QualityConfigError(f"{where} asset {aname}: query phải bắt đầu bằng SELECT hoặc WITH")
        render_sql(q, None)  # unknown placeholders fail here, not at 2 a.m.
        assets[aname] = AssetSpec(
            name=aname,
            query=q,
            key_columns=tuple(a.get("key_columns") or ()),
            description_vi=a.get("description_vi", ""),
        )
    default_asset = next(iter(assets))
    specs: list[ExpectationSpec] = []
    seen: set[str] = set()
    for i, raw in enumerate(_req(data, "expectations", where)):
        w = f"{where} expectation #{i + 1} ({raw.get('name', '?')})"
        for item in _expand(raw, w):
            ename = _req(item, "name", w)
            if not NAME_RE.match(ename):
                raise QualityConfigError(f"{w}: tên '{ename}' chỉ gồm chữ thường, số, '_' và '.'")
            if ename in seen:
                raise QualityConfigError(f"{w}: tên '{ename}' bị trùng trong bộ kiểm tra")
            seen.add(ename)
            etype = _req(item, "type", w)
            if etype not in SUPPORTED_TYPES:
                raise QualityConfigError(f"{w}: loại '{etype}' chưa được hỗ trợ")
            severity = _req(item, "severity", w)
            if severity not in SEVERITIES:
                raise QualityConfigError(f"{w}: severity phải là một trong {SEVERITIES}")
            asset = item.get("asset", default_asset)
            if asset not in assets:
                raise QualityConfigError(f"{w}: asset '{asset}' không có trong bộ kiểm tra")
            mostly = item.get("mostly")
            if mostly is not None:
                if etype not in ROW_LEVEL_TYPES:
                    raise QualityConfigError(f"{w}: 'mostly' chỉ dùng cho kiểm tra theo từng dòng")
                mostly = float(mostly)
                if not 0 < mostly <= 1:
                    raise QualityConfigError(f"{w}: 'mostly' phải trong (0, 1]")
            kwargs = dict(item.get("kwargs") or {})
            if item.get("sample_columns") and etype not in ROW_LEVEL_TYPES:
                raise QualityConfigError(f"{w}: 'sample_columns' chỉ dùng cho kiểm tra theo từng dòng")
            if etype == SQL_TYPE:
                q = str(_req(kwargs, "unexpected_rows_query", w))
                if "{batch}" not in q:
                    raise QualityConfigError(f"{w}: unexpected_rows_query phải dùng {{batch}}")
                render_sql(q, None)
            specs.append(
                ExpectationSpec(
                    name=ename,
                    asset=asset,
                    type=etype,
                    kwargs=kwargs,
                    severity=severity,
                    description_vi=str(_req(item, "description_vi", w)).strip(),
                    hint_vi=str(item.get("hint_vi", "")).strip(),
                    mostly=mostly,
                    sample_columns=tuple(item.get("sample_columns") or ()),
                )
            )
    return SuiteSpec(
        name=name,
        layer=layer,
        description_vi=str(data.get("description_vi", "")).strip(),
        assets=assets,
        expectations=tuple(specs),
        path=path,
        windowed=bool(data.get("windowed", True)),
    )


def load_suite(name: str, directory: Path | None = None) -> SuiteSpec:
    d = directory or expectations_dir()
    path = d / f"{name}.yml"
    if not path.exists():
        raise QualityConfigError(f"không có bộ kiểm tra '{name}' ({path}); có: {', '.join(list_suites(d))}")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec = parse_suite(data, path)
    if spec.name != name:
        raise QualityConfigError(f"{path}: suite '{spec.name}' phải trùng tên tệp '{name}'")
    return spec


def list_suites(directory: Path | None = None) -> list[str]:
    """Suite files are the YAML files with a top-level `suite:` key (freshness.yml is not one)."""
    d = directory or expectations_dir()
    names = []
    for p in sorted(d.glob("*.yml")):
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if isinstance(data, dict) and "suite" in data:
            names.append(p.stem)
    return names


@dataclass(frozen=True)
class FreshnessEntity:
    source: str
    entity: str
    table: str | None  # raw table with a date column; None for snapshots
    date_column: str | None
    max_load_lag_hours: float
    max_data_gap_days: int


@dataclass(frozen=True)
class FreshnessConfig:
    entities: tuple[FreshnessEntity, ...] = field(default_factory=tuple)


def load_freshness(directory: Path | None = None) -> FreshnessConfig:
    path = (directory or expectations_dir()) / "freshness.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    defaults = data.get("defaults", {})
    out = []
    for e in data["entities"]:
        merged = {**defaults, **e}
        out.append(
            FreshnessEntity(
                source=merged["source"],
                entity=merged["entity"],
                table=merged.get("table"),
                date_column=merged.get("date_column"),
                max_load_lag_hours=float(merged["max_load_lag_hours"]),
                max_data_gap_days=int(merged["max_data_gap_days"]),
            )
        )
    return FreshnessConfig(tuple(out))
