"""Small hand-made marts for the export tests (the real ones come from dbt), in both bases of the 2025 reform.

Daily figures per unit are a deterministic function of (unit, day) plus optional overrides, for the days the unit
is valid, and every period row is aggregated from those days the way warehouse.md and reform.md say (flows summed,
stocks at the last loaded day; basis `historical`: the units valid in the period, each with its own days; basis
`current`: today's units, each with the units whose primary successor, transitively, it is on each day), so
restating one day changes exactly the periods that contain it.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from marts_contract import MARTS_DDL, Register, Unit, dim_periods_rows, periods

# A pre-reform province (Vĩnh Phúc 2024): its committee has been valid since 2020. One department ended on
# 31/3/2024 and went to another (its figures go there in the current basis).
PROVINCE = "000.00.00.H26"
DISTRICT = "000.00.12.H26"
COMMUNE = "000.12.31.H26"
VINH_PHUC = [
    Unit(PROVINCE, "UBND tỉnh Vĩnh Phúc", "UBND_TINH", None),
    Unit("000.00.01.H26", "Sở Thông tin và Truyền thông", "SO_NGANH", PROVINCE),
    Unit("000.00.02.H26", "Sở Tư pháp", "SO_NGANH", PROVINCE),
    Unit("000.00.03.H26", "Sở Bưu chính, Viễn thông", "SO_NGANH", PROVINCE, valid_to=date(2024, 3, 31),
         successors=("000.00.01.H26",)),  # fmt: skip
    Unit(DISTRICT, "UBND huyện Vĩnh Tường", "UBND_HUYEN", PROVINCE),
    Unit(COMMUNE, "UBND xã Tân Tiến", "UBND_XA", DISTRICT),
    Unit("000.12.32.H26", "UBND xã Lũng Hòa", "UBND_XA", DISTRICT),
]

# The merged province (reform.md): until 30/6/2025 old Phú Thọ and Vĩnh Phúc with their departments, districts and
# communes; from 1/7/2025 the new Phú Thọ committee (reusing the old one's identifier), a department reusing an
# old department's identifier, and new communes under the province (one reusing an old commune's identifier).
REFORM, OLD_END = date(2025, 7, 1), date(2025, 6, 30)
H25 = "000.00.00.H25"
NEW_NAME = "Ủy ban nhân dân tỉnh Phú Thọ"
NEW_UNITS = {H25, "000.00.01.H25", "000.12.31.H25", "000.40.01.H25"}


def _old(code, name, utype, parent, area, successors=()) -> Unit:
    return Unit(code, name, utype, parent, area, valid_to=OLD_END, successors=successors)


def _new(code, name, utype, parent) -> Unit:
    return Unit(code, name, utype, parent, "25", valid_from=REFORM)


PHU_THO = [
    _old(H25, "UBND tỉnh Phú Thọ", "UBND_TINH", None, "25", (H25,)),
    _old("000.00.00.H26", "UBND tỉnh Vĩnh Phúc", "UBND_TINH", None, "26", (H25,)),
    _old("000.00.01.H25", "Sở Thông tin và Truyền thông tỉnh Phú Thọ", "SO_NGANH", H25, "25", ("000.00.01.H25",)),
    _old("000.00.01.H26", "Sở Thông tin và Truyền thông tỉnh Vĩnh Phúc", "SO_NGANH", "000.00.00.H26", "26",
         ("000.00.01.H25",)),  # fmt: skip
    _old("000.00.12.H25", "UBND huyện Lâm Thao", "UBND_HUYEN", H25, "25"),  # no successor
    _old("000.12.31.H25", "UBND thị trấn Lâm Thao", "UBND_XA", "000.00.12.H25", "25", ("000.12.31.H25",)),
    _old("000.12.32.H25", "UBND xã Xuân Lũng", "UBND_XA", "000.00.12.H25", "25",
         ("000.12.31.H25", "000.40.01.H25")),  # fmt: skip  (split: the first took its committee)
    _old("000.00.13.H26", "UBND huyện Vĩnh Tường", "UBND_HUYEN", "000.00.00.H26", "26"),
    _old("000.13.41.H26", "UBND xã Tân Tiến", "UBND_XA", "000.00.13.H26", "26", ("000.40.01.H25",)),
    _new(H25, NEW_NAME, "UBND_TINH", None),
    _new("000.00.01.H25", "Sở Khoa học và Công nghệ", "SO_NGANH", H25),
    _new("000.12.31.H25", "UBND xã Lâm Thao", "UBND_XA", H25),
    _new("000.40.01.H25", "UBND xã Vĩnh Tường", "UBND_XA", H25),
]

GROUP = {"SO_NGANH": "SO_NGANH", "UBND_HUYEN": "HUYEN", "UBND_XA": "XA"}
# indicator -> (framework, group, max points, numerator field, denominator field)
INDICATORS = {
    "QD766.CKMB.DOSSIER_SYNC": ("QD766", "CKMB", 6, "synced", "received"),
    "QD766.TDGQ.ON_TIME": ("QD766", "TDGQ", 20, "on_time_all", "resolved_all"),
    "QD766.MDSH.E_CERTIFIED_COPY": ("QD766", "MDSH", 2, "cert_communes", "communes"),
    "EDOC.OUTGOING_SIGNED": ("EDOC", "EDOC", 100, "signed", "outgoing"),
    "ESIGN.ORG_CERT": ("ESIGN", "ESIGN", 50, "org_cert", "one"),
}
# The weights seed of these marts (ranking -> framework -> multiplier); max_score = Σ multiplier × the framework's
# max points (here QD766 6 + 20 + 2 = 28; CDS 5 × 28 + 100 + 50 = 290), as the project's seed states its maxima.
WEIGHTS = {"QD766": {"QD766": 1}, "CDS": {"QD766": 5, "EDOC": 1, "ESIGN": 1}}
MAX_SCORE = {
    ranking: sum(m * mx for fw, m in parts.items() for f, _, mx, _, _ in INDICATORS.values() if f == fw)
    for ranking, parts in WEIGHTS.items()
}
BASES = ("historical", "current")
DDL = """
DROP TABLE IF EXISTS marts.dim_units, marts.bridge_unit_succession, marts.dim_periods, marts.fct_indicator_values,
    marts.rpt_qd766_scores, marts.rpt_ranking_scores, marts.rpt_unit_rankings, marts.rpt_dossier_report;
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


class _Days:
    """Who counts in a (basis, unit, scope) row on a day, and their daily figures summed (memoised)."""

    def __init__(self, units: list[Unit], end: date, overrides: dict) -> None:
        self.units, self.reg, self.overrides = units, Register(units, end), overrides
        self._members: dict[tuple, list[Unit]] = {}
        self._sums: dict[tuple, dict] = {}

    def members(self, basis: str, unit: Unit, scope: str, day: date) -> list[Unit]:
        key = (basis, unit.key, scope, day)
        if key not in self._members:
            alive = [v for v in self.units if v.valid_on(day)]
            reg = self.reg
            if basis == "historical":
                out = [v for v in alive if v == unit or (scope == "area" and unit in reg.ancestors(v, day))]
            elif scope == "unit":
                out = [v for v in alive if reg.current(v) == unit]
            elif unit.parent is None:  # the province's territory: every unit, those without a successor too
                out = alive
            else:
                out = [
                    v
                    for v in alive
                    if (c := reg.current(v)) is not None and (c == unit or unit in reg.ancestors(c, reg.last_day))
                ]
            self._members[key] = out
        return self._members[key]

    def sums(self, basis: str, unit: Unit, scope: str, day: date) -> dict:
        key = (basis, unit.key, scope, day)
        if key not in self._sums:
            out = dict.fromkeys(daily("", day, {}), 0)
            for v in self.members(basis, unit, scope, day):
                for k, x in daily(v.code, day, self.overrides).items():
                    out[k] += x
            self._sums[key] = out
        return self._sums[key]


def build_marts(
    conn,
    start: date,
    end: date,
    overrides: dict | None = None,
    bad_numerator: bool = False,
    evaluated_to: bool = True,
    units: list[Unit] = VINH_PHUC,
    missing: frozenset[date] = frozenset(),
) -> None:
    """(Re)create the marts for data loaded over [start, end] of the register `units`, as chiso_transformer.

    `evaluated_to` adds the column the project's dbt marts carry (least(period_end, last loaded day)).
    `marts.dim_periods` says which periods are complete: every day of [start, end] loaded but `missing`.
    """
    overrides = overrides or {}
    days = _Days(units, end, overrides)
    conn.execute(DDL)
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO marts.dim_units VALUES (" + ",".join(["%s"] * 14) + ")", days.reg.dim_units())
    rows_dossier, rows_fct, rows_score, rows_rank, rows_ranking_score = [], [], [], [], []
    for (ptype, ps, pe), basis in ((p, b) for p in periods(start, end) for b in BASES):
        loaded = [ps + timedelta(days=i) for i in range((pe - ps).days + 1) if start <= ps + timedelta(days=i) <= end]
        last, before = loaded[-1], loaded[0] - timedelta(days=1)
        if basis == "historical":
            row_units = [u for u in units if any(u.valid_on(d) for d in loaded)]
            ranked = [u for u in row_units if u.valid_on(last)]
        else:
            row_units = ranked = days.reg.today()
        scores: dict[tuple, tuple[float, float]] = {}
        for u in row_units:
            for scope in ("unit", "area") if u.type in ("UBND_TINH", "UBND_HUYEN") else ("unit",):
                flow = dict.fromkeys(daily("", last, {}), 0)
                for d in loaded:
                    for k, x in days.sums(basis, u, scope, d).items():
                        flow[k] += x
                stock = days.sums(basis, u, scope, last)
                prior = days.sums(basis, u, scope, before) if before >= start else {"within": 0, "overdue": 0}
                key = (basis, u.code, u.valid_from, scope, ptype, ps, pe)
                received = flow["online"] + flow["offline"]
                resolved = flow["early"] + flow["on_time"] + flow["late"]
                if ptype.startswith("report_"):
                    rows_dossier.append(
                        (*key, received, flow["online"], flow["offline"], prior["within"] + prior["overdue"],
                         resolved, flow["early"], flow["on_time"], flow["late"],
                         stock["within"] + stock["overdue"], stock["within"], stock["overdue"])
                    )  # fmt: skip
                    continue
                communes = [v for v in days.members(basis, u, scope, last) if v.type == "UBND_XA"]
                parts = {
                    "synced": -1 if bad_numerator and u.type == "UBND_TINH" else flow["synced"],
                    "received": received,
                    "on_time_all": flow["early"] + flow["on_time"] + stock["within"],
                    "resolved_all": resolved + stock["within"] + stock["overdue"],
                    "cert_communes": sum(1 for v in communes if _r(v.code) % 2),
                    "communes": len(communes),
                    "signed": flow["signed"],
                    "outgoing": flow["outgoing"],
                    "org_cert": 1,
                    "one": 1,
                }
                groups: dict[str, float] = {}
                framework_points: dict[str, float] = dict.fromkeys(("QD766", "EDOC", "ESIGN"), 0.0)
                for ind, (fw, grp, mx, num, den) in INDICATORS.items():
                    n, dn = parts[num], parts[den]
                    applicable = dn != 0
                    value = round(n / dn, 6) if applicable else None
                    full = ind.endswith("E_CERTIFIED_COPY")
                    pts = round(mx * min(1, value), 4) if applicable else (mx if full else 0)
                    rows_fct.append((basis, ind, *key[1:], fw, grp, n, dn, value, pts, mx, applicable))
                    framework_points[fw] += pts
                    if fw == "QD766":
                        groups[grp] = groups.get(grp, 0) + pts
                total = round(sum(groups.values()), 4)
                g = [groups.get("CKMB", 0), groups.get("TDGQ", 0), 0, groups.get("MDSH", 0), 0, 0]
                rows_score.append((*key, *g, total, "Yếu"))
                ranking = {r: round(sum(m * framework_points[fw] for fw, m in parts.items()), 4)
                           for r, parts in WEIGHTS.items()}  # fmt: skip
                for r, sc in ranking.items():
                    rows_ranking_score.append((basis, r, *key[1:], sc, MAX_SCORE[r]))
                scores[(u.key, scope)] = (ranking["QD766"], ranking["CDS"])
        if not ptype.startswith("report_"):
            for group in ("SO_NGANH", "HUYEN", "XA"):
                scope = "area" if group == "HUYEN" else "unit"
                members = [u for u in ranked if GROUP.get(u.type) == group]
                for ranking, idx in (("QD766", 0), ("CDS", 1)):
                    for u in members:
                        sc = scores[(u.key, scope)][idx]
                        rank = 1 + sum(1 for o in members if scores[(o.key, scope)][idx] > sc)
                        rows_rank.append(
                            (basis, ranking, ptype, ps, group, u.code, u.valid_from, pe, u.name, sc, rank,
                             len(members), None, None)
                        )  # fmt: skip
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO marts.rpt_dossier_report VALUES (" + ",".join(["%s"] * 18) + ")", rows_dossier)
        cur.executemany("INSERT INTO marts.fct_indicator_values VALUES (" + ",".join(["%s"] * 16) + ")", rows_fct)
        cur.executemany("INSERT INTO marts.rpt_qd766_scores VALUES (" + ",".join(["%s"] * 15) + ")", rows_score)
        cur.executemany("INSERT INTO marts.rpt_unit_rankings VALUES (" + ",".join(["%s"] * 14) + ")", rows_rank)
        cur.executemany(
            "INSERT INTO marts.rpt_ranking_scores VALUES (" + ",".join(["%s"] * 10) + ")", rows_ranking_score
        )
        cur.executemany("INSERT INTO marts.dim_periods VALUES (" + ",".join(["%s"] * 8) + ")",
                        dim_periods_rows(start, end, missing))  # fmt: skip
    if evaluated_to:
        for table in ("rpt_dossier_report", "fct_indicator_values", "rpt_qd766_scores", "rpt_ranking_scores"):
            conn.execute(f"ALTER TABLE marts.{table} ADD COLUMN evaluated_to date")
            conn.execute(f"UPDATE marts.{table} SET evaluated_to = least(period_end, %s)", (end,))
