"""Raw entities: how each source record maps to a raw table, typed and validated.

One `Entity` per raw table. Parsing is strict: a value that does not parse is a bad row (quarantined
with a Vietnamese reason naming the field), never coerced silently.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from operator import itemgetter
from typing import Annotated, Any

from chiso.raw.register import UnitRegister

# Kinds of fields: text, count (integer >= 0), int, bool, date (ISO), dmy_date (dd/mm/yyyy),
# timestamp (ISO with offset), text_list (list of strings), vn_count (count with '.' thousands separator),
# decimal (a JSON number >= 0, e.g. a published score; stored as float so 6 and 6.0 hash alike).


@dataclass(frozen=True)
class Field:
    column: str
    source: str
    kind: str
    required: bool = True  # the field must be present (missing = schema drift)
    nullable: bool = False  # present but null is fine
    key: bool = False
    # False: the column enters the row hash only when it holds something (a column added later, so versions
    # stored before it existed keep their hash while it is empty).
    hash_when_empty: bool = True


@dataclass(frozen=True)
class Entity:
    name: str  # raw table (without schema)
    source: str  # one_stop_shop | edoc | esign
    entity: str  # load_audit.entity
    fields: tuple[Field, ...]
    date_column: str | None = None  # window column for daily entities; None = full snapshot
    unit_column: str | None = None  # checked against the unit register when it is loaded
    # Extra columns set by the extractor, stored but not part of the row hash (esign file provenance).
    extra_columns: tuple[str, ...] = ()
    # Latest-version order beyond _seq (esign: the highest file version wins).
    version_order: tuple[str, ...] = ()
    # The unit register: a snapshot whose versions are checked together before they are stored (register.py).
    unit_register: bool = False
    # Columns a batch fixes (load_batch(scope=...)): it versions and tombstones only the rows holding those
    # values (the national portal: one published period per batch, whatever its date range).
    scope_columns: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields]

    @property
    def key_columns(self) -> list[str]:
        return [f.column for f in self.fields if f.key]

    @property
    def key_sources(self) -> list[str]:
        return [f.source for f in self.fields if f.key]

    @property
    def count_columns(self) -> list[str]:
        return [f.column for f in self.fields if f.kind in ("count", "vn_count")]

    @property
    def table(self) -> str:
        return f"raw.{self.name}"


def _f(column: str, source: str, kind: str, **kw: Any) -> Field:
    return Field(column, source, kind, **kw)


def _counts(pairs: list[tuple[str, str]], kind: str = "count") -> tuple[Field, ...]:
    return tuple(_f(c, s, kind) for c, s in pairs)


OSS_UNITS = Entity(
    name="oss_units",
    source="one_stop_shop",
    entity="units",
    unit_register=True,
    fields=(
        _f("ma_don_vi", "maDonVi", "text", nullable=True),
        _f("ma_dinh_danh", "maDinhDanh", "text", key=True),
        _f("ten_don_vi", "tenDonVi", "text"),
        _f("loai_don_vi", "loaiDonVi", "text"),
        _f("ma_dinh_danh_cha", "maDinhDanhCha", "text", nullable=True),
        _f("ma_dvhc", "maDVHC", "text", nullable=True),
        _f("so_can_bo", "soCanBo", "count", nullable=True),
        _f("co_chung_thuc_dien_tu", "coChungThucDienTu", "bool", nullable=True),
        _f("hieu_luc_tu", "hieuLucTu", "date", key=True),
        _f("hieu_luc_den", "hieuLucDen", "date", nullable=True),
        # Successors of a unit that ended, primary first (reform.md). A register server from before the reform
        # does not send it: missing = empty, not schema drift.
        _f("don_vi_ke_thua", "donViKeThua", "text_list", required=False, nullable=True, hash_when_empty=False),
    ),
)

OSS_PROCEDURES = Entity(
    name="oss_procedures",
    source="one_stop_shop",
    entity="procedures",
    fields=(
        _f("ma_thu_tuc", "maThuTuc", "text", key=True),
        _f("ten_thu_tuc", "tenThuTuc", "text"),
        _f("linh_vuc", "linhVuc", "text", nullable=True),
        _f("cap_thuc_hien", "capThucHien", "text"),
        _f("muc_do_dvc", "mucDoDVC", "text"),
        _f("co_phi_le_phi", "coPhiLePhi", "bool", nullable=True),
        _f("tich_hop_thanh_toan", "tichHopThanhToan", "bool", nullable=True),
        _f("doi_tuong_cong_dan", "doiTuongCongDan", "bool", nullable=True),
        _f("ket_noi_du_lieu_dan_cu", "ketNoiDuLieuDanCu", "bool", nullable=True),
        _f("ngay_hieu_luc_van_ban", "ngayHieuLucVanBan", "date", nullable=True),
        _f("ngay_quyet_dinh_cong_bo", "ngayQuyetDinhCongBo", "date", nullable=True),
        _f("ngay_cong_khai", "ngayCongKhai", "date", nullable=True),
        _f("noi_dung_day_du", "noiDungDayDu", "bool", nullable=True),
        _f("don_vi_thuc_hien", "donViThucHien", "text_list", nullable=True),
    ),
)

OSS_DOSSIER_DAILY = Entity(
    name="oss_dossier_daily",
    source="one_stop_shop",
    entity="dossier_daily",
    date_column="ngay",
    unit_column="ma_dinh_danh",
    fields=(
        _f("ngay", "ngay", "date", key=True),
        _f("ma_dinh_danh", "maDinhDanh", "text", key=True),
        _f("ma_thu_tuc", "maThuTuc", "text", key=True),
        *_counts(
            [
                ("tiep_nhan_truc_tuyen", "tiepNhanTrucTuyen"),
                ("tiep_nhan_truc_tiep", "tiepNhanTrucTiep"),
                ("tiep_nhan_buu_chinh", "tiepNhanBuuChinh"),
                ("tiep_nhan_toan_trinh", "tiepNhanToanTrinh"),
                ("da_xu_ly_truoc_han", "daXuLyTruocHan"),
                ("da_xu_ly_dung_han", "daXuLyDungHan"),
                ("da_xu_ly_qua_han", "daXuLyQuaHan"),
                ("dong_bo_dvcqg", "dongBoDVCQG"),
                ("co_ket_qua_dien_tu", "coKetQuaDienTu"),
                ("so_hoa", "soHoa"),
                ("tai_su_dung_du_lieu", "taiSuDungDuLieu"),
                ("luu_kho_ca_nhan", "luuKhoCaNhan"),
                ("su_dung_du_lieu_dan_cu", "suDungDuLieuDanCu"),
                ("co_nghia_vu_tai_chinh", "coNghiaVuTaiChinh"),
                ("thanh_toan_truc_tuyen", "thanhToanTrucTuyen"),
                ("danh_gia_khong_hai_long", "danhGiaKhongHaiLong"),
                ("dang_xu_ly_trong_han", "dangXuLyTrongHan"),
                ("dang_xu_ly_qua_han", "dangXuLyQuaHan"),
            ]
        ),
        _f("thoi_diem_cap_nhat", "thoiDiemCapNhat", "timestamp", nullable=True),
    ),
)

OSS_PETITION_DAILY = Entity(
    name="oss_petition_daily",
    source="one_stop_shop",
    entity="petition_daily",
    date_column="ngay",
    unit_column="ma_dinh_danh",
    fields=(
        _f("ngay", "ngay", "date", key=True),
        _f("ma_dinh_danh", "maDinhDanh", "text", key=True),
        *_counts(
            [
                ("tiep_nhan", "tiepNhan"),
                ("da_xu_ly_dung_han", "daXuLyDungHan"),
                ("da_xu_ly_qua_han", "daXuLyQuaHan"),
                ("khong_hai_long", "khongHaiLong"),
                ("dang_xu_ly_trong_han", "dangXuLyTrongHan"),
                ("dang_xu_ly_qua_han", "dangXuLyQuaHan"),
            ]
        ),
        _f("thoi_diem_cap_nhat", "thoiDiemCapNhat", "timestamp", nullable=True),
    ),
)

EDOC_DOCUMENTS_DAILY = Entity(
    name="edoc_documents_daily",
    source="edoc",
    entity="documents_daily",
    date_column="report_date",
    unit_column="org_code",
    fields=(
        _f("report_date", "report_date", "date", key=True),
        _f("org_code", "org_code", "text", key=True),
        *_counts(
            [
                (c, c)
                for c in (
                    "incoming_total",
                    "incoming_electronic",
                    "outgoing_total",
                    "outgoing_electronic",
                    "outgoing_signed",
                    "outgoing_via_axis",
                    "paper_parallel",
                    "work_files_total",
                    "work_files_online",
                )
            ]
        ),
        _f("updated_at", "updated_at", "timestamp", nullable=True),
    ),
)

ESIGN_HEADERS = (
    "Mã định danh",
    "Ngày",
    "Chứng thư tổ chức hiệu lực",
    "Chứng thư cá nhân hiệu lực",
    "Cấp mới tổ chức",
    "Cấp mới cá nhân",
    "Thu hồi",
    "Lượt ký tổ chức",
    "Lượt ký cá nhân",
    "Lượt ký từ xa",
)

ESIGN_SIGNATURES_DAILY = Entity(
    name="esign_signatures_daily",
    source="esign",
    entity="signatures_daily",
    date_column="report_date",
    unit_column="ma_dinh_danh",
    extra_columns=("source_file", "file_version"),
    version_order=("file_version",),
    fields=(
        _f("report_date", "Ngày", "dmy_date", key=True),
        _f("ma_dinh_danh", "Mã định danh", "text", key=True),
        *_counts(
            list(
                zip(
                    (
                        "org_certs_active",
                        "personal_certs_active",
                        "org_certs_issued",
                        "personal_certs_issued",
                        "certs_revoked",
                        "org_signatures",
                        "personal_signatures",
                        "remote_signatures",
                    ),
                    ESIGN_HEADERS[2:],
                    strict=True,
                )
            ),
            kind="vn_count",
        ),
    ),
)

# The national portal's published 766 index (sources.md §5), one row per (period, group, metric, portal unit) as
# the extractor flattens the six groups' responses (extract/national_portal.py). Source names are the portal's
# where it has one field for the value; `metricCode` names the portal's metric, or for the tree groups, which
# publish counts as unit fields, "<numerator field>/<denominator field>" ("totalScore": the group's score).
PORTAL_INDICATOR_SCORES = Entity(
    name="portal_indicator_scores",
    source="national_portal",
    entity="indicator_scores",
    scope_columns=("period_type", "period_start"),
    fields=(
        _f("period_type", "timeType", "text", key=True),
        _f("period_start", "periodStart", "date", key=True),
        _f("period_end", "periodEnd", "date"),
        _f("group_code", "group", "text", key=True),
        _f("metric_code", "metricCode", "text", key=True),
        _f("department_id", "departmentId", "text", key=True),
        _f("department_code", "departmentCode", "text", required=False, nullable=True),
        _f("department_name", "departmentName", "text"),
        _f("department_level", "level", "text", required=False, nullable=True),
        _f("department_type", "departmentType", "text", required=False, nullable=True),
        _f("is_root", "isRoot", "bool"),
        _f("numerator", "numerator", "count", nullable=True),
        _f("denominator", "denominator", "count", nullable=True),
        _f("ratio", "ratio", "decimal", required=False, nullable=True),
        _f("score", "score", "decimal", nullable=True),
        _f("max_score", "maxScore", "decimal", nullable=True),
        _f("data_quality_status", "dataQualityStatus", "text", required=False, nullable=True),
        _f("data_quality_message", "dataQualityMessage", "text", required=False, nullable=True),
    ),
)

ENTITIES = {
    e.name: e
    for e in (
        OSS_UNITS,
        OSS_PROCEDURES,
        OSS_DOSSIER_DAILY,
        OSS_PETITION_DAILY,
        EDOC_DOCUMENTS_DAILY,
        ESIGN_SIGNATURES_DAILY,
        PORTAL_INDICATOR_SCORES,
    )
}


# ---------------------------------------------------------------- parsing


class BadValue(ValueError):
    """A value that does not parse; `message` is Vietnamese, for quarantine."""


_VN_COUNT = re.compile(r"^-?\d{1,3}(\.\d{3})*$|^-?\d+$")


def _parse(f: Field, v: Any) -> Any:
    k = f.kind
    if k == "text":
        if not isinstance(v, str | int) or isinstance(v, bool):
            raise BadValue(f"trường '{f.source}' không phải chuỗi ký tự ({v!r})")
        s = str(v).strip()
        if not s:
            raise BadValue(f"trường '{f.source}' rỗng")
        return s
    if k in ("count", "int", "vn_count"):
        if isinstance(v, bool):
            raise BadValue(f"trường '{f.source}' không phải số nguyên ({v!r})")
        if isinstance(v, int):
            n = v
        elif isinstance(v, float) and v.is_integer():
            n = int(v)
        elif isinstance(v, str) and k == "vn_count" and _VN_COUNT.match(v.strip()):
            n = int(v.strip().replace(".", ""))
        elif isinstance(v, str) and k != "vn_count" and re.fullmatch(r"-?\d+", v.strip()):
            n = int(v.strip())
        else:
            raise BadValue(f"trường '{f.source}' không phải số nguyên ({v!r})")
        if k != "int" and n < 0:
            raise BadValue(f"trường '{f.source}' có giá trị âm ({n})")
        if n > 2_147_483_647:
            raise BadValue(f"trường '{f.source}' vượt quá giới hạn ({n})")
        return n
    if k == "decimal":
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise BadValue(f"trường '{f.source}' không phải số ({v!r})")
        if v < 0:
            raise BadValue(f"trường '{f.source}' có giá trị âm ({v})")
        return float(v)
    if k == "bool":
        if isinstance(v, bool):
            return v
        if v in (0, 1):
            return bool(v)
        if isinstance(v, str) and v.strip().lower() in ("true", "false"):
            return v.strip().lower() == "true"
        raise BadValue(f"trường '{f.source}' không phải giá trị đúng/sai ({v!r})")
    if k == "date":
        try:
            if not isinstance(v, str) or len(v) != 10:
                raise ValueError
            return date.fromisoformat(v)
        except ValueError:
            raise BadValue(f"trường '{f.source}' không phải ngày hợp lệ YYYY-MM-DD ({v!r})") from None
    if k == "dmy_date":
        if isinstance(v, datetime):
            return v.date()
        if isinstance(v, date):
            return v
        try:
            d, m, y = str(v).strip().split("/")
            if len(y) != 4:
                raise ValueError
            return date(int(y), int(m), int(d))
        except ValueError:
            raise BadValue(f"trường '{f.source}' không phải ngày hợp lệ dd/mm/yyyy ({v!r})") from None
    if k == "timestamp":
        try:
            ts = datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        except ValueError:
            raise BadValue(f"trường '{f.source}' không phải thời điểm hợp lệ ({v!r})") from None
        if ts.tzinfo is None:
            raise BadValue(f"trường '{f.source}' thiếu múi giờ ({v!r})")
        return ts
    if k == "text_list":
        if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
            raise BadValue(f"trường '{f.source}' không phải danh sách mã ({v!r})")
        return [x.strip() for x in v]
    raise AssertionError(f"unknown field kind {k}")


@dataclass
class Problem:
    field: str | None
    message: str
    drift: bool = False  # the field is missing from the record (schema drift)


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def key(self, entity: Entity) -> tuple | None:
        k = tuple(self.values.get(c) for c in entity.key_columns)
        return None if any(x is None for x in k) else k


def parse_record(entity: Entity, record: Any) -> Parsed:
    """Type one source record. Collects every problem so the quarantine reason is complete."""
    out = Parsed()
    if not isinstance(record, dict):
        out.problems.append(Problem(None, f"bản ghi không phải đối tượng JSON ({type(record).__name__})"))
        return out
    for f in entity.fields:
        if f.source not in record:
            if f.required:
                out.problems.append(Problem(f.source, f"thiếu trường '{f.source}'", drift=True))
            out.values[f.column] = [] if f.kind == "text_list" and f.nullable else None
            continue
        v = record[f.source]
        if v is None or (isinstance(v, str) and not v.strip() and f.kind != "text_list"):
            if f.nullable:
                out.values[f.column] = [] if f.kind == "text_list" else None
            else:
                out.problems.append(Problem(f.source, f"trường '{f.source}' rỗng"))
                out.values[f.column] = None
            continue
        try:
            out.values[f.column] = _parse(f, v)
        except BadValue as e:
            out.problems.append(Problem(f.source, str(e)))
            out.values[f.column] = None
    return out


def unexpected_fields(entity: Entity, record: Any) -> list[str]:
    if not isinstance(record, dict):
        return []
    known = {f.source for f in entity.fields}
    return sorted(k for k in record if k not in known)


def _canon(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


def row_hash(entity: Entity, values: dict[str, Any]) -> str:
    """sha256 of the business columns in column order (provenance columns excluded; a `hash_when_empty=False`
    column only when it holds something)."""
    payload = json.dumps(
        [_canon(values.get(f.column)) for f in entity.fields if f.hash_when_empty or values.get(f.column)],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def canonical_json(record: Any) -> str:
    """Canonical text of a received record, for the batch checksum and quarantine payloads."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=_canon)


def page_problems(entity: Entity, records: list, known_units: UnitRegister | set[str] | None = None) -> int:
    """Rows of a page that would be quarantined (parse problems, units unknown or not valid on the row's date,
    duplicate keys within the page). Lets an extractor re-read a page whose bad rows may be a transient glitch."""
    fast = fast_rows(entity, records)
    if fast is not None:
        bad = len(fast) - len(set(map(key_getter(entity), fast)))
        if entity.unit_column and known_units is not None:
            ui = entity.columns.index(entity.unit_column)
            if isinstance(known_units, UnitRegister) and entity.date_column:
                bad += known_units.invalid_rows(fast, ui, entity.columns.index(entity.date_column))
                return bad
            units = set(map(itemgetter(ui), fast))
            if not units <= known_units:
                bad += sum(1 for r in fast if r[ui] not in known_units)
        return bad
    records = plain_records(records)
    bad = 0
    keys: set[tuple] = set()
    for rec in records:
        p = parse_record(entity, rec)
        k = p.key(entity)
        if not p.ok or k is None:
            bad += 1
            continue
        if entity.unit_column and known_units is not None:
            u = p.values.get(entity.unit_column)
            d = p.values.get(entity.date_column) if entity.date_column else None
            if u not in known_units or (
                isinstance(known_units, UnitRegister) and d is not None and known_units.problem(u, d)
            ):
                bad += 1
        if k in keys:
            bad += 1
        keys.add(k)
    return bad


# ---------------------------------------------------------------- fast path
# A page whose every record is exactly the documented shape (every field present, no other field, counts
# non-negative int32 JSON integers, codes without surrounding blanks, ISO dates, timestamps to the second
# with an offset) is typed in one msgspec call; the values are then those parse_record would return, in
# canonical form (dates and timestamps as their ISO text). Anything else takes the row-by-row path above,
# which names every problem.

_FAST_KINDS = {"text", "count", "date", "timestamp"}
_TEXT = r"^[^\s\\](?:[^\t\n\r\\]*[^\s\\])?$"  # no surrounding blanks; no tab, newline or backslash (COPY-safe)
_DATE = r"^\d{4}-\d{2}-\d{2}$"


def _fast_type(f: Field) -> Any:
    import msgspec

    # Strings are checked per column, its distinct values in one regex call (_fast_values_valid), not per row.
    t: Any = {
        "text": str,
        "count": Annotated[int, msgspec.Meta(ge=0, le=2_147_483_647)],
        "date": str,
        "timestamp": str,
    }[f.kind]
    return t | None if f.nullable else t


@cache
def fast_struct(entity: Entity) -> Any:
    """The msgspec Struct a record of the documented shape decodes into (None: the entity has no fast path)."""
    import msgspec

    if entity.extra_columns or not all(f.kind in _FAST_KINDS for f in entity.fields):
        return None
    return msgspec.defstruct(
        f"Fast_{entity.name}",
        [(f.column, _fast_type(f)) for f in entity.fields],
        rename={f.column: f.source for f in entity.fields},
        forbid_unknown_fields=True,
    )


@cache
def fast_envelope(entity: Entity, items: str, required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> Any:
    """A response envelope whose list `items` holds fast_struct records; other members are decoded as they
    are (`required` ones must be present). Lets a client decode a well-formed page straight into typed rows;
    None when the entity has no fast path."""
    import msgspec

    st = fast_struct(entity)
    if st is None:
        return None
    return msgspec.defstruct(
        f"Envelope_{entity.name}_{items}",
        [(items, list[st]), *((n, Any) for n in required), *((n, Any, None) for n in optional)],
    )


def plain_records(records: list) -> list:
    """Records as received (dicts): typed records (fast_struct) are turned back into their JSON objects."""
    import msgspec

    if records and isinstance(records[0], msgspec.Struct):
        return msgspec.to_builtins(records)
    return records


# The last answers of fast_rows, shared by threads (a client's prefetching thread checks a page, the loader
# types the same page in another): id(records) -> (entity, records, rows). Holding `records` keeps its id
# from being reused while the entry lives.
_FAST_RECENT_MAX = 16
_fast_recent: OrderedDict[int, tuple[Any, list, list[tuple] | None]] = OrderedDict()
_fast_lock = threading.Lock()


def fast_rows(entity: Entity, records: list) -> list[tuple] | None:
    """The records as tuples of canonical column values (entity.columns order), or None when any record
    needs the row-by-row path. `records` are dicts, or fast_struct instances already decoded by the client.
    The last answers are remembered (the extractor's page check and the loader ask about the same page,
    possibly from different threads)."""
    import msgspec

    with _fast_lock:
        hit = _fast_recent.get(id(records))
    if hit is not None and hit[0] is entity and hit[1] is records:
        return hit[2]
    st = fast_struct(entity)
    out: list[tuple] | None = None
    if st is not None and records:
        if type(records[0]) is st:  # decoded typed by the client (a list of one type throughout)
            structs = records
        else:
            try:
                structs = msgspec.convert(records, list[st])
            except msgspec.ValidationError:
                structs = None
        if structs is not None:
            out = list(map(msgspec.structs.astuple, structs))
            if not _fast_values_valid(entity, out):
                out = None
    with _fast_lock:
        _fast_recent[id(records)] = (entity, records, out)
        _fast_recent.move_to_end(id(records))
        while len(_fast_recent) > _FAST_RECENT_MAX:
            _fast_recent.popitem(last=False)
    return out


@cache
def key_getter(entity: Entity) -> Any:
    """Callable giving a row tuple's key (always a tuple, even for one key column)."""
    idx = [i for i, f in enumerate(entity.fields) if f.key]
    if len(idx) == 1:
        i = idx[0]
        return lambda r: (r[i],)
    return itemgetter(*idx)


# The same checks over a whole column at once: its distinct values joined by newlines (which no value of the
# fast path holds) must match the value pattern repeated, in one regex call instead of one per value. The
# timestamp pattern also bounds hours, minutes and seconds (and the offset's), so that with the date part
# checked to exist it accepts exactly what the pattern plus datetime.fromisoformat accepted — or less: a value
# it refuses takes the row-by-row path, which decides.
_TS_BODY = (
    r"\d{4}-\d{2}-\d{2}T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\+(?:[01]\d|2[0-3]):[0-5]\d|-(?!00:00)(?:[01]\d|2[0-3]):[0-5]\d)"
)
_COLUMN_BODIES = {"text": _TEXT[1:-1], "date": _DATE[1:-1], "timestamp": _TS_BODY}
_COLUMN_PATTERNS = {
    kind: re.compile(f"(?:{body}\n)*{body}", 0 if kind == "text" else re.ASCII) for kind, body in _COLUMN_BODIES.items()
}


def _fast_values_valid(entity: Entity, rows: list[tuple]) -> bool:
    """Each distinct string of a column matches its pattern, and each date or timestamp exists."""
    for i, f in enumerate(entity.fields):
        pattern = _COLUMN_PATTERNS.get(f.kind)
        if pattern is None:
            continue
        values = set(map(itemgetter(i), rows))
        values.discard(None)
        if not values:
            continue
        joined = "\n".join(values)
        # a value holding a newline itself would split into two that each match: refused outright
        if joined.count("\n") != len(values) - 1 or pattern.fullmatch(joined) is None:
            return False
        if f.kind in ("date", "timestamp"):
            try:
                for d in {v[:10] for v in values} if f.kind == "timestamp" else values:
                    date.fromisoformat(d)
            except ValueError:
                return False
    return True


def fast_row_hashes(rows: list[tuple]) -> list[str]:
    """row_hash() of fast_rows() tuples: the same JSON text (ints, strings, nulls), so the same digests."""
    import msgspec

    enc, sha = msgspec.json.encode, hashlib.sha256
    return [sha(enc(r)).hexdigest() for r in rows]
