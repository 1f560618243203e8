"""Memory of extracting one day of dossier counts at volume x1 vs x10 (goal: flat, ratio well under 10).

A local server following sources.md §1 (in a child process, so its memory is not counted) serves N
synthetic rows for one day; the extractor reads them page by page into a throwaway embedded
PostgreSQL. Reports the Python heap peak (tracemalloc) and the RSS growth of each run; the times
include tracemalloc's own overhead (several times slower than a plain run).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
import tracemalloc
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

ROWS_X1 = 20_000
COUNTS = [
    "tiepNhanTrucTuyen", "tiepNhanTrucTiep", "tiepNhanBuuChinh", "tiepNhanToanTrinh", "daXuLyTruocHan",
    "daXuLyDungHan", "daXuLyQuaHan", "dongBoDVCQG", "coKetQuaDienTu", "soHoa", "taiSuDungDuLieu",
    "luuKhoCaNhan", "suDungDuLieuDanCu", "coNghiaVuTaiChinh", "thanhToanTrucTuyen", "danhGiaKhongHaiLong",
    "dangXuLyTrongHan", "dangXuLyQuaHan",
]  # fmt: skip


def serve(port: int, rows: int) -> None:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):  # quiet
            pass

        def _send(self, body: dict) -> None:
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._send({"access_token": "t", "token_type": "Bearer", "expires_in": 3600})

        def do_GET(self):  # noqa: N802
            q = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
            trang, size = int(q.get("trang", 1)), int(q.get("soBanGhi", 1000))
            if urlparse(self.path).path == "/api/v1/don-vi":
                n, items = 1, [{"maDonVi": "x", "maDinhDanh": "000.00.01.H26", "tenDonVi": "UBND",
                                "loaiDonVi": "UBND_TINH", "maDinhDanhCha": None, "maDVHC": "26", "soCanBo": 30,
                                "coChungThucDienTu": False, "hieuLucTu": "2020-01-01", "hieuLucDen": None}]  # fmt: skip
            else:
                n = rows
                lo, hi = (trang - 1) * size, min(rows, trang * size)
                items = [
                    {"ngay": q.get("tuNgay"), "maDinhDanh": "000.00.01.H26", "maThuTuc": f"1.{i:07d}",
                     **{c: (i * 7 + j) % 13 for j, c in enumerate(COUNTS)},
                     "thoiDiemCapNhat": "2024-05-02T08:00:00+07:00"}
                    for i in range(lo, hi)
                ]  # fmt: skip
            self._send({"trang": trang, "soBanGhi": size, "tongSoBanGhi": n,
                        "tongSoTrang": -(-n // size), "duLieu": items})  # fmt: skip

    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(uri: str, rows: int) -> tuple[float, float, float]:
    from datetime import date

    from chiso.extract import one_stop_shop
    from chiso.extract.common import SourceConn

    port = free_port()
    proc = mp.Process(target=serve, args=(port, rows), daemon=True)
    proc.start()
    time.sleep(0.5)
    try:
        conn = SourceConn(f"http://127.0.0.1:{port}", "cid", "secret")
        day = date(2024, 5, 1)
        rss0 = rss_mb()
        tracemalloc.start()
        t0 = time.monotonic()
        s = one_stop_shop.extract(conn, uri, day, day, entities=("units", "dossier_daily"))
        elapsed = time.monotonic() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert s["totals"]["rows_received"] == rows + 1, s["totals"]
        return peak / 2**20, rss_mb() - rss0, elapsed
    finally:
        proc.terminate()
        proc.join(5)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from chiso.settings import Settings
    from chiso.stack import credentials, postgres

    home = Path(tempfile.mkdtemp(prefix="chiso-bench-"))
    os.chmod(home, 0o755)  # noqa: S103 (the postgres OS user must reach its data dir)
    settings = Settings(home=home, pg_port=int(os.environ.get("CHISO_BENCH_PG_PORT", "5519")))
    creds = credentials.load(home)
    postgres.ensure_running(settings, creds)
    try:
        uri = postgres.uri(settings, "chiso_loader", creds[postgres.ROLES["chiso_loader"]])
        measure(uri, 2_000)  # warm imports and the schema
        res = {}
        for mult in (1, 10):
            # a fresh day each time: the warehouse starts empty for that key range
            with __import__("psycopg").connect(uri, autocommit=True) as c:
                c.execute("TRUNCATE raw.oss_dossier_daily")
            res[mult] = measure(uri, ROWS_X1 * mult)
            heap, rss, secs = res[mult]
            print(
                f"x{mult:<3} rows={ROWS_X1 * mult:>7}  heap peak {heap:7.2f} MiB"
                f"  RSS growth {rss:7.2f} MiB  {secs:6.1f}s"
            )
        ratio = res[10][0] / res[1][0]
        print(f"heap peak ratio x10/x1 = {ratio:.2f} (flat streaming ≈ 1; proportional = 10)")
        return 0 if ratio < 3 else 1
    finally:
        postgres.stop(settings)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
