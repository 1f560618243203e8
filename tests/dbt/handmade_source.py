"""Feed hand-made source records through the real source interfaces and the real extractors.

`HandMadeSource` stands in for `chiso_simulator.engine.Simulator` behind the simulator's own FastAPI apps and
e-signature drop writer: it offers the small surface they use (`units()`, `procedures()`, `rows_between()`,
`esign_rows()`, `cfg`, `clock`, `now()`, `today()`, `seed`, `manual`) but serves exactly the records it was
given, with every fault off. `serve()` runs the one-stop-shop (OAuth2, paginated) and e-document (API key,
cursor) apps with uvicorn on loopback and writes the drop folder; `Sources.extract()` then runs
`chiso.extract.one_stop_shop`, `edoc` and `esign`, which load raw through the real loader.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import uvicorn

from chiso.extract import edoc, esign, one_stop_shop
from chiso.extract.common import SourceConn
from chiso_simulator.apps import SimState, create_edoc_app, create_oss_app
from chiso_simulator.engine import TZ, Clock, SimConfig
from chiso_simulator.esign_drop import write_esign_drop

PORTS = range(5641, 5650)  # loopback ports reserved for test_dbt_marts (another module passes its own to serve())
CLIENT_ID, CLIENT_SECRET, API_KEY = "dbt-test", "dbt-test-secret", "dbt-test-key"
PAGE_SIZE = 2  # small pages, so every list is read over several pages / cursors

# Fields that key a record of each daily feed; the first one is its day (YYYY-MM-DD).
KEYS = {
    "dossier": ("ngay", "maDinhDanh", "maThuTuc"),
    "petition": ("ngay", "maDinhDanh"),
    "edoc": ("report_date", "org_code"),
    "esign": ("report_date", "ma_dinh_danh"),
}


class HandMadeSource:
    """The source systems' current content: registers and daily records, as the interfaces send them."""

    seed = 0

    def __init__(self, now: datetime, units: list[dict], procedures: list[dict]) -> None:
        self.cfg = SimConfig(correction_rate={})  # province "26", no late corrections
        self.clock = Clock()
        self.clock.set(now)
        self.manual: list = []  # explicit e-signature restatements: none
        self._units = units
        self._procedures = procedures
        self._records: dict[str, dict[tuple, dict]] = {system: {} for system in KEYS}

    def now(self) -> datetime:
        return self.clock.now().astimezone(TZ)

    def today(self) -> date:
        return self.now().date()

    def put(self, system: str, record: dict) -> None:
        """Add a record, or replace the one with the same key (a restatement)."""
        self._records[system][tuple(record[f] for f in KEYS[system])] = record

    def remove(self, system: str, *key: str) -> None:
        """The source stops returning a record (its counts became zero)."""
        del self._records[system][key]

    def days(self, system: str) -> list[date]:
        return sorted({date.fromisoformat(k[0]) for k in self._records[system]})

    # The surface the simulator's apps and drop writer read.
    def units(self) -> list[dict]:
        return list(self._units)

    def procedures(self) -> list[dict]:
        return list(self._procedures)

    def rows_between(
        self, system: str, start: date, end: date, as_of: datetime | None = None, copy: bool = True
    ) -> list[dict]:
        """Records of [start, end] ordered by key, as the simulator orders them (the cursor relies on it)."""
        rows = [r for k, r in sorted(self._records[system].items()) if start.isoformat() <= k[0] <= end.isoformat()]
        return [dict(r) for r in rows] if copy else rows

    def esign_rows(self, d: date, as_of: datetime | None = None) -> list[dict]:
        return self.rows_between("esign", d, d)

    def reset(self) -> None:
        pass

    def clear_caches(self) -> None:
        pass


def _free_port(ports: range) -> int:
    for port in ports:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {ports.start}-{ports.stop - 1}")


@contextmanager
def _served(app, ports: range) -> Iterator[str]:
    port = _free_port(ports)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"source app did not start on port {port}"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Sources:
    source: HandMadeSource
    oss: SourceConn
    edoc: SourceConn
    esign: SourceConn

    def extract(self, warehouse_uri: str, start: date, end: date, run_id: str = "dbt-test") -> list[dict[str, Any]]:
        """One extract run of [start, end] over the three interfaces; fails on any quarantined row or file."""
        folder = Path(self.esign.extra["path"])
        for day in self.source.days("esign"):  # the CA's service drops a file for each day it has rows for
            write_esign_drop(self.source, folder, day, day, now=self.source.now())
        summaries = [
            one_stop_shop.extract(self.oss, warehouse_uri, start, end, run_id=run_id, page_size=PAGE_SIZE),
            edoc.extract(self.edoc, warehouse_uri, start, end, run_id=run_id, page_size=PAGE_SIZE),
            esign.extract(self.esign, warehouse_uri, start, end, run_id=run_id),
        ]
        for s in summaries:
            assert all(b["status"] == "succeeded" for b in s["batches"]), s
            assert s["totals"]["rows_quarantined"] == 0 and not s["rejected_files"], s
        return summaries


@contextmanager
def serve(source: HandMadeSource, drop_folder: Path, ports: range = PORTS) -> Iterator[Sources]:
    """The source's HTTP apps on loopback ports taken from `ports` (faults off) and its drop folder, for as long
    as the block runs."""
    state = SimState.create(source)
    oss_app = create_oss_app(source, CLIENT_ID, CLIENT_SECRET, state=state)
    edoc_app = create_edoc_app(source, API_KEY, state=state)
    with _served(oss_app, ports) as oss_url, _served(edoc_app, ports) as edoc_url:
        yield Sources(
            source,
            SourceConn(oss_url, CLIENT_ID, CLIENT_SECRET),
            SourceConn(edoc_url, password=API_KEY),
            SourceConn(extra={"path": str(drop_folder)}),
        )
