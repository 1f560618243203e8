"""Working days of the Vietnamese civil service (weekends, public holidays, make-up Saturdays) and the
seasonal activity profile (quiet weekends, Tết break and slow restart)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays
import numpy as np

FIRST = date(2010, 1, 1)
LAST = date(2040, 12, 31)


class WorkCalendar:
    def __init__(self) -> None:
        hol = holidays.country_holidays("VN", years=range(FIRST.year, LAST.year + 1))
        n = (LAST - FIRST).days + 1
        self._working = np.zeros(n, dtype=bool)
        for i in range(n):
            self._working[i] = hol.is_working_day(FIRST + timedelta(days=i))
        # _wdi[i] = number of working days in [FIRST, day i]
        self._wdi = np.cumsum(self._working).astype(np.int64)
        self._tet: dict[int, date] = {}
        for d, name in hol.items():
            if name == "Lunar New Year":
                self._tet[d.year] = d
        self._hol = hol

    def _i(self, d: date) -> int:
        if not FIRST <= d <= LAST:
            raise ValueError(f"date {d} outside the simulated calendar {FIRST}..{LAST}")
        return (d - FIRST).days

    def is_working(self, d: date) -> bool:
        return bool(self._working[self._i(d)])

    def wdi(self, d: date) -> int:
        """Working-day index: working days up to and including d."""
        return int(self._wdi[self._i(d)])

    def base(self, d: date) -> int:
        """Working-day index at which a dossier received on d starts being processed."""
        i = self._i(d)
        return int(self._wdi[i]) + (0 if self._working[i] else 1)

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after d (n >= 1), or the n-th before (n <= -1)."""
        step = 1 if n > 0 else -1
        left = abs(n)
        while left:
            d += timedelta(days=step)
            if self.is_working(d):
                left -= 1
        return d

    def tet(self, year: int) -> date:
        return self._tet[year]

    def activity(self, d: date) -> float:
        """Relative intake on d versus an ordinary working day."""
        if not self.is_working(d):
            return 0.0
        f = 1.0
        for year in (d.year, d.year + 1):
            k = (d - self.tet(year)).days
            if -12 <= k < 0:
                f = 1.1  # year-end rush before the holiday
            elif 0 <= k <= 21:
                # slow restart: working days right after Tết are quiet, back to normal in ~3 weeks
                f = 0.45 + 0.55 * k / 21
        wd = d.weekday()
        f *= (1.12, 1.05, 1.0, 0.98, 0.9, 0.6, 0.6)[wd]  # Monday peak; make-up Saturdays are quieter
        return f


@lru_cache(maxsize=1)
def work_calendar() -> WorkCalendar:
    return WorkCalendar()
