"""Small hand-made marts for the export tests (the real ones come from dbt).

Daily figures per unit are a deterministic function of (unit, day) plus optional overrides, and every
period row is aggregated from those days the way warehouse.md says (flows summed, stocks at the last
loaded day), so restating one day changes exactly the periods that contain it.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from marts_contract import MARTS_DDL, periods

PROVINCE = "000.00.00.H26"
UNITS = [
    # unit_code, name, type, parent
    (PROVINCE, "UBND tỉnh Vĩnh Phúc", "UBND_TINH", None),
    ("000.00.01.H26", "Sở Thông tin và Truyền thông", "SO_NGANH", PROVINCE),
    ("000.00.02.H26", "Sở Tư pháp", "SO_NGANH", PROVINCE),
    ("000.00.12.H26", "UBND huyện Vĩnh Tường", "UBND_HUYEN", PROVINCE),
    ("000.12.31.H26", "UBND xã Tân Tiến", "UBND_XA", "000.00.12.H26"),
    ("000.12.32.H26", "UBND xã Lũng Hòa", "UBND_XA", "000.00.12.H26"),
]
CODES = [u[0] for u in UNITS]
TYPE = {u[0]: u[2] for u in UNITS}
GROUP = {"SO_NGANH": "SO_NGANH", "UBND_HUYEN": "HUYEN", "UBND_XA": "XA"}
# indicator -> (framework, group, max points, numerator field, denominator field)
INDICATORS = {
    "QD766.CKMB.DOSSIER_SYNC": ("QD766", "CKMB", 6, "synced", "received"),
    "QD766.TDGQ.ON_TIME": ("QD766", "TDGQ", 20, "on_time_all", "resolved_all"),
    "QD766.MDSH.E_CERTIFIED_COPY": ("QD766", "MDSH", 2, "cert_communes", "communes"),
    "EDOC.OUTGOING_SIGNED": ("EDOC", "EDOC", 100, "signed", "outgoing"),
    "ESIGN.ORG_CERT": ("ESIGN", "ESIGN", 50, "org_cert", "one"),
}
DDL = """
DROP TABLE IF EXISTS marts.dim_units, marts.fct_indicator_values, marts.rpt_qd766_scores,
    marts.rpt_unit_rankings, marts.rpt_dossier_report;
""" + MARTS_DDL


def _r(*parts) -> int:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def daily(unit: str, day: date, overrides: dict) -> dict:
    h = _r(unit, day)
    online, offline = h % 9, (h >> 4) % 5
    early, on_time, late = (h >> 8) % 4, (h >> 12) % 5, (h >> 16) % 2
    d = {
        "online": online,
        "offline": offline,
        "synced": max(0, online + offline - (h >> 20) % 2),
        "early": early,
        "on_time": on_time,
        "late": late,
        "within": (h >> 22) % 6,
        "overdue": (h >> 25) % 2,
        "signed": (h >> 27) % 4,
        "outgoing": 4,
    }
    d.update(overrides.get((unit, day), {}))
    return d


def _members(code: str, scope: str) -> list[str]:
    if scope == "unit":
        return [code]
    if TYPE[code] == "UBND_TINH":
        return CODES
    return [code] + [u[0] for u in UNITS if u[3] == code]


def build_marts(
    conn,
    start: date,
    end: date,
    overrides: dict | None = None,
    bad_numerator: bool = False,
    evaluated_to: bool = True,
) -> None:
    """(Re)create the five marts for data loaded over [start, end], as chiso_transformer.

    `evaluated_to` adds the column the project's dbt marts carry (least(period_end, last loaded day));
    without it the exporter must infer completeness from the periods alone.
    """
    overrides = overrides or {}
    conn.execute(DDL)
    conn.execute(
        "INSERT INTO marts.dim_units SELECT x.code, x.code, x.name, x.type, x.parent, '26', 40, '2020-01-01', NULL"
        " FROM (VALUES " + ",".join(["(%s,%s,%s,%s)"] * len(UNITS)) + ") AS x(code, name, type, parent)",
        [v for u in UNITS for v in u],
    )
    rows_dossier, rows_fct, rows_score, rows_rank = [], [], [], []
    for ptype, ps, pe in periods(start, end):
        days = [ps + timedelta(days=i) for i in range((pe - ps).days + 1) if start <= ps + timedelta(days=i) <= end]
        last, before = days[-1], days[0] - timedelta(days=1)
        scores: dict[tuple[str, str], float] = {}
        for code in CODES:
            for scope in ("unit", "area") if TYPE[code] in ("UBND_TINH", "UBND_HUYEN") else ("unit",):
                mem = _members(code, scope)
                flow = {k: sum(daily(u, d, overrides)[k] for u in mem for d in days) for k in daily(code, last, {})}
                stock = {k: sum(daily(u, last, overrides)[k] for u in mem) for k in ("within", "overdue")}
                carried = sum(
                    daily(u, before, overrides)["within"] + daily(u, before, overrides)["overdue"] for u in mem
                )
                received = flow["online"] + flow["offline"]
                resolved = flow["early"] + flow["on_time"] + flow["late"]
                if ptype.startswith("report_"):
                    rows_dossier.append(
                        (
                            code,
                            scope,
                            ptype,
                            ps,
                            pe,
                            received,
                            flow["online"],
                            flow["offline"],
                            carried,
                            resolved,
                            flow["early"],
                            flow["on_time"],
                            flow["late"],
                            stock["within"] + stock["overdue"],
                            stock["within"],
                            stock["overdue"],
                        )
                    )
                    continue
                communes = [u for u in mem if TYPE[u] == "UBND_XA"]
                parts = {
                    "synced": flow["synced"],
                    "received": received,
                    "on_time_all": flow["early"] + flow["on_time"] + stock["within"],
                    "resolved_all": resolved + stock["within"] + stock["overdue"],
                    "cert_communes": sum(1 for u in communes if _r(u) % 2),
                    "communes": len(communes),
                    "signed": flow["signed"],
                    "outgoing": flow["outgoing"],
                    "org_cert": 1,
                    "one": 1,
                }
                if bad_numerator and code == PROVINCE:
                    parts["synced"] = -1
                groups: dict[str, float] = {}
                edoc_esign = 0.0
                for ind, (fw, grp, mx, num, den) in INDICATORS.items():
                    n, dn = parts[num], parts[den]
                    applicable = dn != 0
                    value = round(n / dn, 6) if applicable else None
                    full = ind.endswith("E_CERTIFIED_COPY")
                    pts = round(mx * min(1, value), 4) if applicable else (mx if full else 0)
                    rows_fct.append((ind, code, scope, ptype, ps, pe, fw, grp, n, dn, value, pts, mx, applicable))
                    if fw == "QD766":
                        groups[grp] = groups.get(grp, 0) + pts
                    else:
                        edoc_esign += pts
                total = round(sum(groups.values()), 4)
                rows_score.append(
                    (
                        code,
                        scope,
                        ptype,
                        ps,
                        pe,
                        groups.get("CKMB", 0),
                        groups.get("TDGQ", 0),
                        0,
                        groups.get("MDSH", 0),
                        0,
                        0,
                        total,
                        "Yếu",
                    )
                )
                scores[(code, scope)] = (total, round(5 * total + edoc_esign, 4))
        if not ptype.startswith("report_"):
            for group in ("SO_NGANH", "HUYEN", "XA"):
                scope = "area" if group == "HUYEN" else "unit"
                members = [c for c in CODES if GROUP.get(TYPE[c]) == group]
                for ranking, idx in (("QD766", 0), ("CDS", 1)):
                    ordered = sorted(members, key=lambda c, i=idx, s=scope: -scores[(c, s)][i])
                    for c in ordered:
                        sc = scores[(c, scope)][idx]
                        rank = 1 + sum(1 for o in members if scores[(o, scope)][idx] > sc)
                        rows_rank.append((ranking, ptype, ps, group, c, pe, c, sc, rank, len(members), None, None))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO marts.rpt_dossier_report VALUES (" + ",".join(["%s"] * 16) + ")", rows_dossier)
        cur.executemany("INSERT INTO marts.fct_indicator_values VALUES (" + ",".join(["%s"] * 14) + ")", rows_fct)
        cur.executemany("INSERT INTO marts.rpt_qd766_scores VALUES (" + ",".join(["%s"] * 13) + ")", rows_score)
        cur.executemany("INSERT INTO marts.rpt_unit_rankings VALUES (" + ",".join(["%s"] * 12) + ")", rows_rank)
    if evaluated_to:
        for table in ("rpt_dossier_report", "fct_indicator_values", "rpt_qd766_scores"):
            conn.execute(f"ALTER TABLE marts.{table} ADD COLUMN evaluated_to date")
            conn.execute(f"UPDATE marts.{table} SET evaluated_to = least(period_end, %s)", (end,))
