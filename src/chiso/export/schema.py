"""The national report schema (a copy kept in the package) and validation with Vietnamese messages.

Both the exporter (before sending) and the receiver simulator (on receipt) validate with this module,
so a document the simulator would refuse is never sent. Format checks are on: `date` and `date-time`
are checked here without optional jsonschema extras (rfc3339-validator is not installed).
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

SCHEMA_FILE = "national_report.schema.json"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

# loaiKy values that carry a month or quarter number in `so`, and its range.
SO_RANGE = {"THANG": (1, 12), "QUY": (1, 4)}


def load_schema() -> dict[str, Any]:
    return json.loads(resources.files("chiso.export").joinpath(SCHEMA_FILE).read_text(encoding="utf-8"))


_format_checker = FormatChecker(formats=())


@_format_checker.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_RE.match(value):
        return False
    date.fromisoformat(value)
    return True


@_format_checker.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATETIME_RE.match(value):  # RFC 3339: seconds and an offset are mandatory
        return False
    datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return True


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=_format_checker)


def _path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


_TYPE_VI = {
    "object": "đối tượng",
    "array": "danh sách",
    "string": "chuỗi",
    "integer": "số nguyên",
    "number": "số",
    "null": "null",
    "boolean": "true/false",
}


def _message(err) -> tuple[str, str]:
    """(field path, Vietnamese description) for one jsonschema error."""
    field = _path(err.absolute_path) or "(tài liệu)"
    kw, val = err.validator, err.validator_value
    if kw == "required":
        missing = next((m for m in val if isinstance(err.instance, dict) and m not in err.instance), "?")
        field = f"{field}.{missing}" if err.absolute_path else missing
        return field, f"Thiếu trường bắt buộc '{missing}'"
    if kw == "additionalProperties":
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed) if isinstance(err.instance, dict) else []
        return field, "Trường không được phép: " + ", ".join(f"'{k}'" for k in extra)
    if kw == "enum":
        return field, "Giá trị không thuộc danh sách cho phép (" + ", ".join(map(str, val)) + ")"
    if kw == "type":
        types = val if isinstance(val, list) else [val]
        return field, "Sai kiểu dữ liệu, cần " + " hoặc ".join(_TYPE_VI.get(t, t) for t in types)
    if kw == "format":
        what = {"date": "ngày YYYY-MM-DD", "date-time": "thời điểm ISO 8601 có múi giờ"}.get(val, val)
        return field, f"Không đúng định dạng {what}"
    if kw == "minimum":
        return field, f"Giá trị phải lớn hơn hoặc bằng {val}"
    if kw == "maximum":
        return field, f"Giá trị phải nhỏ hơn hoặc bằng {val}"
    if kw == "minLength":
        return field, "Không được để trống"
    if kw == "minItems":
        return field, f"Cần ít nhất {val} phần tử"
    if kw == "pattern":
        return field, f"Không khớp mẫu {val}"
    return field, f"Không hợp lệ ({kw})"


def _semantic_errors(doc: dict[str, Any]) -> list[dict[str, str]]:
    """Rules the schema states in prose: `so` only for months/quarters, tuNgay <= denNgay."""
    out: list[dict[str, str]] = []
    ky = doc.get("kyBaoCao")
    if not isinstance(ky, dict):
        return out
    loai, so = ky.get("loaiKy"), ky.get("so")
    if loai in SO_RANGE:
        lo, hi = SO_RANGE[loai]
        if so is None:
            out.append({"truong": "kyBaoCao.so", "moTa": f"Kỳ {loai} phải có số tháng/quý ('so')"})
        elif isinstance(so, int) and not lo <= so <= hi:
            out.append({"truong": "kyBaoCao.so", "moTa": f"Số kỳ phải trong khoảng {lo}–{hi}"})
    elif loai is not None and so is not None:
        out.append({"truong": "kyBaoCao.so", "moTa": f"Kỳ {loai} không có số tháng/quý ('so')"})
    try:
        tu, den = date.fromisoformat(ky["tuNgay"]), date.fromisoformat(ky["denNgay"])
    except (KeyError, TypeError, ValueError):
        return out
    if tu > den:
        out.append({"truong": "kyBaoCao.tuNgay", "moTa": "Ngày bắt đầu kỳ sau ngày kết thúc kỳ"})
    return out


def validation_errors(doc: Any) -> list[dict[str, str]]:
    """Every problem of a document as `{"truong", "moTa"}` items (empty list = valid)."""
    found = sorted(validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    errors = [{"truong": f, "moTa": m} for f, m in map(_message, found)]
    if isinstance(doc, dict):
        errors += _semantic_errors(doc)
    return errors
