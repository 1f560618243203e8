"""Injectable faults, per system, each with a rate and a seed.

A decision is a pure function of (seed, system, fault, request key, attempt): the n-th identical request
gets the same answer in every run (replayable), and a retry (attempt n+1) rolls again, so a client that
retries eventually gets through. Faults change what is *served*, never the simulator's truth.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field

from .rng import h64, u01

HTTP_FAULTS = (
    "rate_limit",  # 429 with Retry-After
    "server_error",  # 500 / 502 / 503
    "slow",  # answer after slow_seconds
    "timeout",  # answer after timeout_seconds (longer than a sane client timeout)
    "token_expiry",  # one-stop shop: the bearer token dies in the middle of a paginated read (401)
    "truncated_json",  # body cut in the middle
    "invalid_json",  # body followed by garbage
    "repeat_page",  # the previous page's rows served again
    "negative_counts",  # one row with a negative count
    "unknown_unit",  # one row with a unit code absent from the register
    "duplicate_key",  # one row served twice
    "schema_drift",  # a field renamed
)
FILE_FAULTS = (
    "late",  # the day's file arrives 1-4 days late
    "partial",  # half-written first, completed (and marked .done) ~6 h later
    "empty",  # a header-only file, re-delivered complete as _v2 later
    "redelivery",  # a first file with stale values, re-delivered corrected as _v2
    "wrong_encoding",  # Windows-1258 instead of UTF-8
    "unknown_unit",  # rows for units absent from the register
    "xlsx",  # delivered as .xlsx instead of .csv (a format variant, not an error)
)
SYSTEMS = ("oss", "edoc", "esign")

# schema drift: the field a drifting server renames, per item kind
DRIFT = {
    "dossier": ("tiepNhanTrucTuyen", "soHoSoTiepNhanTrucTuyen"),
    "petition": ("tiepNhan", "soPhanAnhTiepNhan"),
    "units": ("maDinhDanh", "maDinhDanhDonVi"),
    "procedures": ("mucDoDVC", "mucDoDichVuCong"),
    "edoc": ("incoming_total", "incoming_count"),
}


@dataclass
class FaultConfig:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    retry_after: int = 1
    slow_seconds: float = 1.5
    timeout_seconds: float = 60.0

    @classmethod
    def from_dict(cls, d: dict | None, system: str) -> FaultConfig:
        d = dict(d or {})
        rates = {k: float(v) for k, v in (d.pop("rates", None) or {}).items()}
        known = FILE_FAULTS if system == "esign" else HTTP_FAULTS
        bad = sorted(set(rates) - set(known) - {"late_corrections"})
        if bad:
            raise ValueError(f"unknown faults for {system}: {bad}; known: {list(known)}")
        for k, v in rates.items():
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"rate of {k} must be within [0, 1], got {v}")
        extra = set(d) - {"seed", "retry_after", "slow_seconds", "timeout_seconds"}
        if extra:
            raise ValueError(f"unknown fault settings: {sorted(extra)}")
        return cls(rates=rates, **d)

    def to_dict(self) -> dict:
        return asdict(self)


class FaultInjector:
    def __init__(self, system: str, config: FaultConfig | None = None) -> None:
        self.system = system
        self.config = config or FaultConfig()
        self._lock = threading.Lock()
        self.attempts: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.rolls: Counter[str] = Counter()

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self.attempts.clear()
            self.injected.clear()
            self.rolls.clear()

    def attempt_key(self, key: str) -> str:
        """Number the identical requests: `key#n` for the n-th time this exact request is made."""
        with self._lock:
            self.attempts[key] += 1
            return f"{key}#{self.attempts[key]}"

    def roll(self, kind: str, key: str) -> bool:
        rate = self.config.rates.get(kind, 0.0)
        if rate <= 0:
            return False
        hit = rate >= 1.0 or u01(self.config.seed, self.system, kind, key) < rate
        with self._lock:
            self.rolls[kind] += 1
            if hit:
                self.injected[kind] += 1
        return hit

    def pick(self, kind: str, key: str, n: int) -> int:
        return h64(self.config.seed, self.system, kind, "pick", key) % n

    def status(self) -> dict:
        return {**self.config.to_dict(), "injected": dict(self.injected), "rolls": dict(self.rolls)}
