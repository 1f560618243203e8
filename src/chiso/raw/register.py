"""The unit register across the 2025 reform: units are keyed by identifier AND validity (codes are reused).

Two uses, both pure Python (the loader reads and writes the database):

- `check_snapshot`: the checks of a full register snapshot before it is stored. A version is refused (quarantined
  by the loader with the Vietnamese reason given here) when it ends before it starts, when it overlaps another
  version of its identifier, when a successor it names (`donViKeThua`) has no version valid the day after it ends,
  or when it lies on a succession cycle. Refusals cascade: a unit whose successor was refused has, in what gets
  stored, no successor.
- `UnitRegister`: the stored register as the validity check of daily rows sees it — a row whose unit has no
  version valid on the row's date is quarantined with a reason naming the unit, the date and its validity.

How a successor is resolved (the same rule as dbt's int_unit_succession): the successor named `c` of a version
P that ended on day e is the version of `c` valid on e + 1 (so an old X naming X resolves to the new X, never to
itself). A version that has not ended has no day after its end; it should name no successor, and when it does
its successors resolve to the open-ended version of `c` (valid "for ever after"). Along a hop between ended
versions the end date strictly grows, so a succession cycle can only run through versions that have not ended.

What a refused version means downstream (decided here): like any quarantined row it is not stored, and a version
of the same key stored by an earlier load stays (the last good word of the source; the key is not tombstoned). A
unit with no stored version is then not in the register, so its daily rows are quarantined too, by the validity
check, with a reason that says the register load refused the unit and why (`UnitRegister.quarantine_note`, from
raw.quarantine of the latest register load). They load when their days are read again after the register is
corrected: by the daily lookback, or by a backfill for older days.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from operator import itemgetter

OPEN_END = "9999-12-31"  # ISO text of an open validity end: orders after every real date
COMMUNE = "UBND_XA"


@dataclass(frozen=True)
class UnitVersion:
    code: str
    valid_from: date
    valid_to: date | None = None
    unit_type: str | None = None
    successors: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, date]:
        return (self.code, self.valid_from)

    def covers(self, d: date) -> bool:
        return self.valid_from <= d and (self.valid_to is None or d <= self.valid_to)

    @property
    def day_after(self) -> date | None:
        return None if self.valid_to is None else self.valid_to + timedelta(days=1)

    @property
    def range_text(self) -> str:
        if self.valid_to is None:
            return f"từ {self.valid_from.isoformat()}"
        return f"{self.valid_from.isoformat()} – {self.valid_to.isoformat()}"


def validity_text(versions: Iterable[UnitVersion]) -> str:
    return "; ".join(v.range_text for v in versions)


def _by_code(versions: Iterable[UnitVersion]) -> dict[str, list[UnitVersion]]:
    out: dict[str, list[UnitVersion]] = defaultdict(list)
    for v in versions:
        out[v.code].append(v)
    for vs in out.values():
        vs.sort(key=lambda v: v.valid_from)
    return out


def resolve(code: str, pred: UnitVersion, by_code: dict[str, list[UnitVersion]]) -> UnitVersion | None:
    """The version of `code` succeeding `pred` (see the module's docstring), or None."""
    vs = by_code.get(code, ())
    after = pred.day_after
    if after is None:
        return next((v for v in vs if v.valid_to is None), None)
    return next((v for v in vs if v.covers(after)), None)


# ---------------------------------------------------------------- checks of a snapshot


@dataclass(frozen=True)
class RegisterProblem:
    version: UnitVersion
    field: str  # the source field the problem is about (quarantine.field)
    reason: str  # Vietnamese, names the unit


NOT_STORED = "phiên bản này không được nạp vào danh mục"


def _overlaps(by_code: dict[str, list[UnitVersion]]) -> dict[tuple, RegisterProblem]:
    out: dict[tuple, RegisterProblem] = {}
    for code, vs in by_code.items():
        partners: dict[tuple, list[UnitVersion]] = defaultdict(list)
        for i, a in enumerate(vs):
            for b in vs[i + 1 :]:  # sorted by start: b starts on or after a
                if a.valid_to is None or a.valid_to >= b.valid_from:
                    partners[a.key].append(b)
                    partners[b.key].append(a)
        for v in vs:
            if v.key in partners:
                others = ", ".join(o.range_text for o in partners[v.key])
                out[v.key] = RegisterProblem(
                    v,
                    "hieuLucTu",
                    f"Đơn vị {code}: phiên bản hiệu lực {v.range_text} chồng lấn thời gian với phiên bản hiệu lực "
                    f"{others} của cùng mã định danh (một mã định danh chỉ có một phiên bản hiệu lực mỗi ngày); "
                    f"các phiên bản chồng lấn bị cách ly, {NOT_STORED}",
                )
    return out


def _code_loop(start: str, back_to: str, named: dict[str, set[str]]) -> list[str] | None:
    """Identifiers start -> ... -> back_to along every successor any version names, validity aside."""
    prev: dict[str, str] = {}
    frontier, seen = [start], {start}
    while frontier:
        nxt = []
        for c in frontier:
            if c == back_to:
                path = [c]
                while path[-1] != start:
                    path.append(prev[path[-1]])
                return path[::-1]
            for s in sorted(named.get(c, ())):
                if s not in seen:
                    seen.add(s)
                    prev[s] = c
                    nxt.append(s)
        frontier = nxt
    return None


def _missing_successor(
    v: UnitVersion,
    c: str,
    by_code: dict[str, list[UnitVersion]],
    refused: dict[tuple, RegisterProblem],
    named: dict[str, set[str]],
) -> str | None:
    if resolve(c, v, by_code) is not None:
        return None
    head = f"Đơn vị {v.code} (hiệu lực {v.range_text}) có đơn vị kế thừa {c} (donViKeThua)"
    loop = _code_loop(c, v.code, named)
    if loop:  # e.g. two units that ended naming each other: a cycle whose hops do not follow in time
        head = f"Vòng kế thừa {' → '.join([v.code, *loop])} (donViKeThua): {head[0].lower()}{head[1:]}"
    after = v.day_after
    if after is not None:
        when = f"có hiệu lực ngày {after.isoformat()}, ngày sau khi {v.code} hết hiệu lực"
    else:
        when = f"còn hiệu lực ({v.code} chưa hết hiệu lực)"
    gone = [p.version for p in refused.values() if p.version.code == c]
    gone_then = [g for g in gone if (g.covers(after) if after else g.valid_to is None)]
    if gone_then:
        g = gone_then[0]
        why = (
            f"nhưng phiên bản hiệu lực {g.range_text} của {c} bị cách ly trong lần nạp này "
            f"({refused[g.key].reason.split(';')[0]})"
        )
    elif by_code.get(c) or gone:
        why = f"nhưng {c} không có phiên bản nào {when} (hiệu lực {validity_text(by_code.get(c) or gone)})"
    else:
        why = f"nhưng {c} không có trong danh mục đơn vị"
    return f"{head} {why}"


def _cycles(versions: Sequence[UnitVersion], by_code: dict[str, list[UnitVersion]]) -> dict[tuple, RegisterProblem]:
    """Versions on a succession cycle (strongly connected components with a cycle), each with the cycle named."""
    edges: dict[tuple, list[tuple]] = {}
    node: dict[tuple, UnitVersion] = {}
    for v in versions:
        node[v.key] = v
        edges[v.key] = [s.key for c in v.successors if (s := resolve(c, v, by_code)) is not None]
    # Tarjan's algorithm, iterative (registers are small, but recursion depth is not worth risking).
    index: dict[tuple, int] = {}
    low: dict[tuple, int] = {}
    stack: list[tuple] = []
    on_stack: set[tuple] = set()
    sccs: list[list[tuple]] = []
    counter = 0
    for root in node:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges[w])))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    sccs.append(comp)
    out: dict[tuple, RegisterProblem] = {}
    for comp in sccs:
        members = set(comp)
        if len(comp) == 1 and comp[0] not in edges[comp[0]]:
            continue
        for k in sorted(members):
            path = _cycle_path(k, edges, members)
            shown = " → ".join(f"{node[p].code} ({node[p].range_text})" for p in path)
            v = node[k]
            out[k] = RegisterProblem(
                v,
                "donViKeThua",
                f"Đơn vị {v.code} (hiệu lực {v.range_text}) nằm trong vòng kế thừa {shown} (donViKeThua): "
                f"một đơn vị không thể kế thừa chính nó, trực tiếp hay gián tiếp; các phiên bản trong vòng bị cách ly, "
                f"{NOT_STORED}",
            )
    return out


def _cycle_path(start: tuple, edges: dict[tuple, list[tuple]], members: set[tuple]) -> list[tuple]:
    """A shortest path start -> ... -> start inside the component (breadth first)."""
    prev: dict[tuple, tuple] = {}
    seen = {start}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in edges[v]:
                if w not in members:
                    continue
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return [*reversed(path), start]
                if w not in seen:
                    seen.add(w)
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    return [start, start]  # not reached for a component that holds a cycle


def check_snapshot(versions: Iterable[UnitVersion]) -> dict[tuple, RegisterProblem]:
    """Problems of a full register snapshot, by version key. Overlapping versions first; then, until nothing
    changes, successors that resolve to nothing in what remains and succession cycles."""
    versions = list(versions)
    refused = {
        v.key: RegisterProblem(
            v,
            "hieuLucDen",
            f"Đơn vị {v.code}: ngày hết hiệu lực {v.valid_to.isoformat()} trước ngày bắt đầu hiệu lực "
            f"{v.valid_from.isoformat()}; {NOT_STORED}",
        )
        for v in versions
        if v.valid_to is not None and v.valid_to < v.valid_from
    }
    versions = [v for v in versions if v.key not in refused]
    named: dict[str, set[str]] = defaultdict(set)  # identifier -> successors any of its versions names
    for v in versions:
        named[v.code].update(v.successors)
    refused.update(_overlaps(_by_code(versions)))
    while True:
        kept = [v for v in versions if v.key not in refused]
        by_code = _by_code(kept)
        found: dict[tuple, RegisterProblem] = {}
        for v in kept:
            reasons = [
                r for c in dict.fromkeys(v.successors) if (r := _missing_successor(v, c, by_code, refused, named))
            ]
            if reasons:
                found[v.key] = RegisterProblem(v, "donViKeThua", f"{'; '.join(reasons)}; {NOT_STORED}")
        if not found:
            found = _cycles(kept, by_code)
        if not found:
            return refused
        refused.update(found)


# ---------------------------------------------------------------- the stored register, for daily rows


class UnitRegister:
    """The stored unit register: which identifier is valid on which day. `quarantined`: unit versions refused by
    the latest register load, with their reasons (named in a daily row's reason when they explain it)."""

    def __init__(self, versions: Iterable[UnitVersion], quarantined: Iterable[tuple[UnitVersion, str]] = ()) -> None:
        by_code = _by_code(v for v in versions if v.valid_to is None or v.valid_to >= v.valid_from)
        self.versions: dict[str, tuple[UnitVersion, ...]] = {c: tuple(vs) for c, vs in by_code.items()}
        self.codes = frozenset(self.versions)
        # Days covered, as merged spans of ISO text (a reused code's old and new versions make one span).
        self._starts: dict[str, list[str]] = {}
        self._ends: dict[str, list[str]] = {}
        for code, vs in self.versions.items():
            starts: list[str] = []
            ends: list[str] = []
            for v in vs:
                s, e = v.valid_from.isoformat(), (v.valid_to.isoformat() if v.valid_to else OPEN_END)
                if ends and (ends[-1] == OPEN_END or date.fromisoformat(ends[-1]) + timedelta(days=1) >= v.valid_from):
                    ends[-1] = max(ends[-1], e)
                else:
                    starts.append(s)
                    ends.append(e)
            self._starts[code], self._ends[code] = starts, ends
        # Versions some unit names as successor (resolved by validity).
        self._succeeded: set[tuple] = set()
        for vs in self.versions.values():
            for v in vs:
                for c in v.successors:
                    s = resolve(c, v, by_code)
                    if s is not None and s.key != v.key:
                        self._succeeded.add(s.key)
        self.quarantined: dict[str, list[tuple[UnitVersion, str]]] = defaultdict(list)
        for v, reason in quarantined:
            self.quarantined[v.code].append((v, reason))
        self._covered: dict[tuple[str, str], frozenset[str]] = {}
        self._valid_on: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_versions(cls, rows: Iterable[tuple]) -> UnitRegister:
        """From (code, valid_from, valid_to, unit_type, successors) tuples."""
        return cls(UnitVersion(c, f, t, ty, tuple(s or ())) for c, f, t, ty, s in rows)

    def __contains__(self, code: object) -> bool:
        return code in self.codes

    def __len__(self) -> int:
        return len(self.codes)

    # ------------------------------------------------------------ validity, on ISO text (the fast path's values)
    def covers(self, code: str, lo: str, hi: str) -> bool:
        """`code` is valid on every day of [lo, hi] (ISO dates)."""
        starts = self._starts.get(code)
        if starts is None:
            return False
        i = bisect_right(starts, lo) - 1
        return i >= 0 and self._ends[code][i] >= hi

    def covered(self, lo: str, hi: str) -> frozenset[str]:
        """Identifiers valid on every day of [lo, hi] (remembered per range: a batch asks once per page)."""
        key = (lo, hi)
        hit = self._covered.get(key)
        if hit is None:
            hit = frozenset(c for c in self.codes if self.covers(c, lo, hi))
            with self._lock:
                if len(self._covered) > 64:
                    self._covered.clear()
                self._covered[key] = hit
        return hit

    def valid_on(self, day: str) -> frozenset[str]:
        """Identifiers with a version valid on `day` (ISO date), remembered per day: pages of a batch share days."""
        hit = self._valid_on.get(day)
        if hit is None:
            hit = frozenset(c for c in self.codes if self.covers(c, day, day))
            with self._lock:
                if len(self._valid_on) > 1024:
                    self._valid_on.clear()
                self._valid_on[day] = hit
        return hit

    def invalid_rows(self, rows: Sequence[tuple], unit: int, day: int, covered: frozenset[str] | None = None) -> int:
        """How many row tuples (unit identifier at `unit`, ISO date at `day`) have no version valid on their date
        (unknown identifiers included). Set operations per page; a row-by-row pass only over a page that holds an
        invalid row. `covered`: identifiers already known valid on every date of the rows (the batch's window)."""
        units = set(map(itemgetter(unit), rows))
        if covered is not None and units <= covered:
            return 0
        valid = {d: self.valid_on(d) for d in set(map(itemgetter(day), rows))}
        common = frozenset.intersection(*valid.values())
        if units <= common:
            return 0
        suspects = units - common
        return sum(1 for r in rows if r[unit] in suspects and r[unit] not in valid[r[day]])

    # ------------------------------------------------------------ reasons, on dates (the row-by-row path)
    def problem(self, code: str, day: date) -> str | None:
        """Why a row of `code` dated `day` is refused (None: a version is valid then). Unknown identifiers are
        the caller's (their reason predates this check)."""
        vs = self.versions.get(code)
        if not vs or any(v.covers(day) for v in vs):
            return None
        first = vs[0]
        if day < first.valid_from and first.key not in self._succeeded:
            kind = "Xã mới" if first.unit_type == COMMUNE else "Đơn vị mới"
            msg = (
                f"{kind} {code} không có đơn vị tiền thân nào kế thừa: dữ liệu ngày {day.isoformat()} trước ngày "
                f"hiệu lực {first.valid_from.isoformat()} bị cách ly"
            )
        else:
            msg = f"Đơn vị {code} không có hiệu lực ngày {day.isoformat()} (hiệu lực {validity_text(vs)})"
        return msg + self.quarantine_note(code, day)

    def quarantine_note(self, code: str, day: date | None) -> str:
        """What the latest register load refused of `code` that would have covered `day`, if anything."""
        refused = [(v, r) for v, r in self.quarantined.get(code, ()) if day is None or v.covers(day)]
        if not refused:
            return ""
        v, reason = refused[0]
        return (
            f" — phiên bản hiệu lực {v.range_text} của đơn vị này bị cách ly khi nạp danh mục đơn vị, "
            f"nên số liệu hằng ngày của nó cũng bị cách ly (lý do: {reason})"
        )
