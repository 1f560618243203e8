"""The national report schema (a copy kept in the package) and validation with Vietnamese messages.

Both the exporter (before sending) and the receiver simulator (on receipt) validate with this module,
so a document the simulator would refuse is never sent. Format checks are on: `date` and `date-time`
are checked here without optional jsonschema extras (rfc3339-validator is not installed).

jsonschema walks a document of the demo province (~6,000 figures) in ~0.4 s. A valid document is first
recognised by msgspec types that state the same schema at least as strictly (milliseconds); only a document
they refuse goes through jsonschema, which finds and words the problems. So the answer is always
jsonschema's, and the fast path is used only while the schema file is the one those types were written for.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal

from jsonschema import Draft202012Validator, FormatChecker

try:  # in the Airflow venv (a dependency of Airflow's task SDK); without it every document goes to jsonschema
    import msgspec
except ImportError:  # pragma: no cover
    msgspec = None

SCHEMA_FILE = "national_report.schema.json"
# sha256 of the schema file the msgspec types below restate.
SCHEMA_SHA256 = "0b7ef00a32cd87f01ace3d51440efe8191158337353542e566cac807cbfd1def"

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


if msgspec is not None:
    _Text = Annotated[str, msgspec.Meta(min_length=1)]
    _NonNegative = Annotated[float, msgspec.Meta(ge=0)]
    _UNSET = msgspec.UNSET

    class _ChiTieu(msgspec.Struct, forbid_unknown_fields=True):
        ma: _Text
        giaTri: float | None  # the schema's field names
        tuSo: _NonNegative | msgspec.UnsetType = _UNSET
        mauSo: _NonNegative | msgspec.UnsetType = _UNSET
        diem: _NonNegative | msgspec.UnsetType = _UNSET
        diemToiDa: _NonNegative | msgspec.UnsetType = _UNSET
        xepHang: Annotated[int, msgspec.Meta(ge=1)] | msgspec.UnsetType = _UNSET

    class _Item(msgspec.Struct, forbid_unknown_fields=True):
        maDinhDanh: _Text
        tenDonVi: _Text
        phamVi: Literal["DON_VI", "DIA_BAN"]
        chiTieu: Annotated[list[_ChiTieu], msgspec.Meta(min_length=1)]

    class _KyBaoCao(msgspec.Struct, forbid_unknown_fields=True):
        loaiKy: Literal["THANG", "QUY", "SAU_THANG", "CHIN_THANG", "NAM"]
        nam: Annotated[int, msgspec.Meta(ge=2015, le=2100)]
        tuNgay: str  # format checked by _formats_ok
        denNgay: str
        so: Annotated[int, msgspec.Meta(ge=1, le=12)] | msgspec.UnsetType = _UNSET

    class _DonVi(msgspec.Struct, forbid_unknown_fields=True):
        maDinhDanh: _Text
        maDVHC: Annotated[str, msgspec.Meta(pattern="^[0-9]{2}$")]
        tenDonVi: _Text

    class _Document(msgspec.Struct, forbid_unknown_fields=True):
        maBaoCao: Literal["BIEU_06_TTHC", "CHI_SO_CDS"]
        kyBaoCao: _KyBaoCao
        donViBaoCao: _DonVi
        lanGui: Annotated[int, msgspec.Meta(ge=1)]
        thoiDiemLap: str  # format checked by _formats_ok
        duLieu: Annotated[list[_Item], msgspec.Meta(min_length=1)]


@lru_cache(maxsize=1)
def _fast_path() -> bool:
    """The msgspec types restate this schema file (a changed schema turns the fast path off)."""
    text = resources.files("chiso.export").joinpath(SCHEMA_FILE).read_bytes()
    return msgspec is not None and hashlib.sha256(text).hexdigest() == SCHEMA_SHA256


def _formats_ok(doc: Any) -> bool:
    try:
        ky = doc["kyBaoCao"]
        return bool(_is_date(ky["tuNgay"]) and _is_date(ky["denNgay"]) and _is_datetime(doc["thoiDiemLap"]))
    except (KeyError, TypeError, ValueError):
        return False


def surely_valid(doc: Any) -> bool:
    """True only for a document the schema accepts (False: ask jsonschema)."""
    if not _fast_path():
        return False
    try:
        msgspec.convert(doc, _Document, strict=True)
    except (msgspec.ValidationError, TypeError, ValueError):
        return False
    return _formats_ok(doc)


def validation_errors(doc: Any) -> list[dict[str, str]]:
    """Every problem of a document as `{"truong", "moTa"}` items (empty list = valid)."""
    if surely_valid(doc):
        return _semantic_errors(doc)
    found = sorted(validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    errors = [{"truong": f, "moTa": m} for f, m in map(_message, found)]
    if isinstance(doc, dict):
        errors += _semantic_errors(doc)
    return errors
