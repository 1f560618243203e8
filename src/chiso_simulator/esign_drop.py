"""The CA's reporting service: one file per day in `<folder>/YYYY/MM/chu_ky_so_YYYYMMDD[_vN].csv|.xlsx`,
then an empty `<file>.done` marker.

Each day has a deterministic delivery schedule (a pure function of seed, fault config and date): when
each version is written, in which format and encoding, and when its marker appears. The writer is
idempotent: run it as often as you like with the current time, it only adds what is due and missing.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from .engine import ESIGN_COUNTS, TZ, Simulator, dates
from .faults import FaultConfig
from .rng import h64, u01

HEADER = ["Mã định danh", "Ngày", "Chứng thư tổ chức hiệu lực", "Chứng thư cá nhân hiệu lực", "Cấp mới tổ chức",
          "Cấp mới cá nhân", "Thu hồi", "Lượt ký tổ chức", "Lượt ký cá nhân", "Lượt ký từ xa"]
SEP = ";"
EOL = "\r\n"  # the service runs on Windows


@dataclass(frozen=True)
class Delivery:
    day: date
    version: int
    fmt: str  # csv | xlsx
    at: datetime  # when the file appears
    done_at: datetime  # when its .done marker appears (later than `at` = half-written meanwhile)
    content: str  # full | empty | stale
    encoding: str  # utf-8-sig | cp1258
    unknown_units: int
    as_of: datetime  # the truth the content reflects

    @property
    def name(self) -> str:
        v = "" if self.version == 1 else f"_v{self.version}"
        return f"chu_ky_so_{self.day:%Y%m%d}{v}.{self.fmt}"

    @property
    def relpath(self) -> str:
        return f"{self.day:%Y}/{self.day:%m}/{self.name}"


def _roll(cfg: FaultConfig, kind: str, d: date) -> bool:
    rate = cfg.rates.get(kind, 0.0)
    return rate > 0 and (rate >= 1 or u01(cfg.seed, "esign", kind, d.toordinal()) < rate)


def schedule(sim: Simulator, d: date, faults: FaultConfig | None = None) -> list[Delivery]:
    """Every version of day d's report that the service will deliver, in order."""
    cfg = faults or FaultConfig()
    seed = sim.seed
    at = datetime.combine(d + timedelta(days=1), datetime.min.time(), TZ) + timedelta(
        hours=1, seconds=int(u01(seed, "drop_at", d.toordinal()) * 7200))
    if _roll(cfg, "late", d):
        at += timedelta(days=1 + h64(cfg.seed, "esign", "late_days", d.toordinal()) % 4)
    fmt = "xlsx" if _roll(cfg, "xlsx", d) else "csv"
    enc = "cp1258" if fmt == "csv" and _roll(cfg, "wrong_encoding", d) else "utf-8-sig"
    done_at = at + timedelta(hours=6) if _roll(cfg, "partial", d) else at
    unknown = 1 + h64(cfg.seed, "esign", "unknown_n", d.toordinal()) % 2 if _roll(cfg, "unknown_unit", d) else 0
    if _roll(cfg, "empty", d):
        content = "empty"
    elif _roll(cfg, "redelivery", d):
        content = "stale"
    else:
        content = "full"
    out = [Delivery(d, 1, fmt, at, done_at, content, enc, unknown, at)]
    if content != "full":
        at2 = done_at + timedelta(days=1 + h64(cfg.seed, "esign", "v2_days", d.toordinal()) % 4)
        out.append(Delivery(d, 2, fmt, at2, at2, "full", "utf-8-sig", 0, at2))
    # explicit restatements (Simulator.correct(system="esign")): each one a new version when it takes effect
    for c in sorted((c for c in sim.manual if c.system == "esign" and c.day == d), key=lambda c: c.at):
        when = max(c.at, out[-1].done_at + timedelta(seconds=1))
        out.append(Delivery(d, out[-1].version + 1, fmt, when, when, "full", "utf-8-sig", 0, when))
    return out


def fmt_int(n: int) -> str:
    """1234567 -> '1.234.567' (Vietnamese thousands separator)."""
    s = f"{abs(n):,}".replace(",", ".")
    return f"-{s}" if n < 0 else s


def encode_cp1258(text: str) -> bytes:
    """Windows-1258: precomposed where the code page has the letter, else base letter + combining tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        # a letter with its vowel mark (ê, ơ, ă ...) exists precomposed; the tone goes as a combining mark
        for i, m in enumerate(marks):
            rest = marks[:i] + marks[i + 1:]
            try:
                out += unicodedata.normalize("NFC", base + m).encode("cp1258") + "".join(rest).encode("cp1258")
                break
            except UnicodeEncodeError:
                continue
        else:
            out += (base + "".join(marks)).encode("cp1258", errors="replace")
    return bytes(out)


def _rows(sim: Simulator, dl: Delivery) -> list[dict]:
    if dl.content == "empty":
        return []
    rows = sim.esign_rows(dl.day, as_of=dl.as_of)
    if dl.content == "stale":
        # the first delivery missed part of the day's signatures
        for r in rows:
            if u01(sim.seed, "stale", dl.day.toordinal(), r["ma_dinh_danh"]) < 0.3:
                r["personal_signatures"] = max(0, r["personal_signatures"] - 1 - r["personal_signatures"] // 4)
                r["org_signatures"] = max(0, r["org_signatures"] - r["org_signatures"] // 5)
                r["remote_signatures"] = min(r["remote_signatures"], r["org_signatures"] + r["personal_signatures"])
    for i in range(dl.unknown_units):
        code = f"000.{90 + i:02d}.99.H{sim.cfg.province}"
        rows.append({"ma_dinh_danh": code, "report_date": dl.day.isoformat(), "org_certs_active": 1,
                     "personal_certs_active": 3 + i, "org_certs_issued": 0, "personal_certs_issued": 0,
                     "certs_revoked": 0, "org_signatures": 2, "personal_signatures": 1, "remote_signatures": 0})
    return rows


def csv_text(rows: list[dict], day: date) -> str:
    lines = [SEP.join(HEADER)]
    for r in rows:
        lines.append(SEP.join([r["ma_dinh_danh"], f"{day:%d/%m/%Y}", *(fmt_int(r[k]) for k in ESIGN_COUNTS)]))
    return EOL.join(lines) + EOL


def render(sim: Simulator, dl: Delivery) -> bytes:
    rows = _rows(sim, dl)
    if dl.fmt == "xlsx":
        return _xlsx(rows, dl.day)
    text = csv_text(rows, dl.day)
    return encode_cp1258(text) if dl.encoding == "cp1258" else text.encode("utf-8-sig")


def _xlsx(rows: list[dict], day: date) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "BaoCao"
    ws.append(HEADER)
    for r in rows:
        ws.append([r["ma_dinh_danh"], day, *(r[k] for k in ESIGN_COUNTS)])
        ws.cell(row=ws.max_row, column=2).number_format = "dd/mm/yyyy"
    fixed = datetime(day.year, day.month, day.day, 23, 59)
    wb.properties.created = wb.properties.modified = fixed
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_esign_drop(sim: Simulator, folder: str | Path, start: date, end: date | None = None, *,
                     now: datetime | None = None, faults: FaultConfig | None = None) -> list[Path]:
    """Write every file (and marker) of days start..end that is due at `now` and not yet on disk.

    end defaults to yesterday and now to the simulator's clock. Returns the paths written."""
    folder = Path(folder)
    now = (now or sim.now()).astimezone(TZ)
    end = end or (now.date() - timedelta(days=1))
    written: list[Path] = []
    for d in dates(start, min(end, now.date() - timedelta(days=1))):
        for dl in schedule(sim, d, faults):
            if dl.at > now:
                break
            path = folder / dl.relpath
            done = path.with_name(path.name + ".done")
            if done.exists():
                continue
            complete = dl.done_at <= now
            if path.exists() and not complete:
                continue  # half-written, waiting
            path.parent.mkdir(parents=True, exist_ok=True)
            data = render(sim, dl)
            if not complete:
                data = data[: len(data) // 2]
            if not path.exists() or complete:
                path.write_bytes(data)
                written.append(path)
            if complete:
                done.write_bytes(b"")
                written.append(done)
    return written
