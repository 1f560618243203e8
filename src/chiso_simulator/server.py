"""`python -m chiso_simulator serve`: every simulated system in one process (one asyncio loop, several
uvicorn servers), plus a background task keeping the e-signature drop folder filled up to yesterday."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import logging
import os
import signal
from datetime import date, datetime
from pathlib import Path

import uvicorn

from .apps import SimState, create_edoc_app, create_oss_app
from .engine import Clock, SimConfig, make_simulator
from .esign_drop import write_esign_drop
from .faults import FaultConfig
from .portal import create_portal_app

log = logging.getLogger("chiso_simulator")

# Mild, realistic trouble for demos: `--faults realistic`.
PRESETS = {
    "none": {},
    "realistic": {
        "oss": {"seed": 1, "rates": {"rate_limit": 0.02, "server_error": 0.01, "token_expiry": 0.02,
                                     "repeat_page": 0.005}},
        "edoc": {"seed": 2, "rates": {"rate_limit": 0.02, "server_error": 0.01, "slow": 0.02}},
        "esign": {"seed": 3, "rates": {"late": 0.03, "partial": 0.05, "redelivery": 0.03, "xlsx": 0.05,
                                       "unknown_unit": 0.01}},
    },
}


class _Server(uvicorn.Server):
    """Signals are handled once for all servers of the process, not by each."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


def load_faults(spec: str | None) -> dict[str, FaultConfig]:
    """`--faults`: a preset name, a JSON object, or a path to a JSON file: {"oss": {"rates": {...}, "seed": 1}, ...}."""
    if not spec:
        return {}
    if spec in PRESETS:
        raw = PRESETS[spec]
    elif spec.lstrip().startswith("{"):
        raw = json.loads(spec)
    else:
        raw = json.loads(Path(spec).read_text(encoding="utf-8"))
    return {system: FaultConfig.from_dict(cfg, system) for system, cfg in raw.items()}


def national_app(token: str, store: str | None = None):
    """The national reporting receiver, if its module exists (written separately); `store`: its journal file."""
    try:
        mod = importlib.import_module("chiso_simulator.national")
    except ModuleNotFoundError as exc:
        if exc.name == "chiso_simulator.national":
            return None
        raise
    factory = getattr(mod, "create_app", None)
    return factory(token, store_path=store) if factory else None


def _arg_or_env(value: str | None, env: str, name: str) -> str:
    v = value or os.environ.get(env)
    if not v:
        raise SystemExit(f"missing {name}: pass --{name} or set {env}")
    return v


def build_state(args: argparse.Namespace) -> SimState:
    faults = load_faults(args.faults or os.environ.get("CHISO_SIM_FAULTS"))
    cfg = SimConfig(seed=args.seed, scale=args.scale, province=args.province, era=args.era)
    for system, fc in faults.items():
        lc = fc.rates.pop("late_corrections", None)
        if lc is not None:
            for t in {"oss": ("dossier", "petition"), "edoc": ("edoc",)}.get(system, ()):
                cfg.correction_rate[t] = lc
    clock = Clock()
    today = args.today or os.environ.get("CHISO_SIM_TODAY")
    frozen = args.frozen or os.environ.get("CHISO_SIM_CLOCK", "running") == "frozen"
    if today and "T" in today:  # an instant: the clock runs from it, or stands at it
        clock.set(datetime.fromisoformat(today), running=not frozen)
    elif frozen:
        raise SystemExit("a frozen clock needs an instant (--today 2025-08-01T12:00:00+07:00)")
    elif today:
        clock.set_today(date.fromisoformat(today))
    sim = make_simulator(cfg, clock)
    state = SimState.create(sim, faults)
    primary = getattr(sim, "primary", None)
    if primary is not None:  # several provinces: the portal's 766 index stays the first province's
        from .portal import Portal

        state.portal = Portal(primary)
    return state


async def _drop_loop(state: SimState, folder: Path, start: date, every: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            written = await asyncio.to_thread(write_esign_drop, state.sim, folder, start,
                                              faults=state.faults["esign"].config)
            if written:
                log.info("esign drop: %d files written under %s", len(written), folder)
        except Exception:  # keep serving HTTP even if the drop folder misbehaves
            log.exception("esign drop writer failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


async def serve(args: argparse.Namespace) -> None:
    state = build_state(args)
    sim = state.sim
    client_id = _arg_or_env(args.client_id, "CHISO_SIM_CLIENT_ID", "client-id")
    secret = _arg_or_env(args.client_secret, "CHISO_SIM_CLIENT_SECRET", "client-secret")
    api_key = _arg_or_env(args.api_key, "CHISO_SIM_API_KEY", "api-key")
    apps = [
        ("one-stop shop", create_oss_app(sim, client_id, secret, token_ttl=args.token_ttl, state=state),
         args.oss_port),
        ("e-document", create_edoc_app(sim, api_key, state=state), args.edoc_port),
        ("national portal (766 index)", create_portal_app(sim, state=state), args.portal_port),
    ]
    token = args.national_token or os.environ.get("CHISO_SIM_NATIONAL_TOKEN")
    if token:
        nat = national_app(token, args.national_store or os.environ.get("CHISO_SIM_NATIONAL_STORE"))
        if nat is not None:
            apps.append(("national reporting", nat, args.national_port))
        else:
            log.warning("chiso_simulator.national.create_app not found: national port %s not served",
                        args.national_port)
    servers = [
        _Server(uvicorn.Config(app, host=args.host, port=port, log_level=args.log_level, lifespan="on",
                               access_log=args.access_log))
        for _, app, port in apps
    ]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def _stop() -> None:
        stop.set()
        for s in servers:
            s.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stop)
    for name, _, port in apps:
        log.info("serving %s on http://%s:%s", name, args.host, port)
    if hasattr(sim, "provinces"):
        log.info("simulated now: %s (seed %s, scale %s, %d provinces: %s; portal index: %s only)",
                 sim.now().isoformat(), sim.seed, sim.cfg.scale, len(sim.provinces), ",".join(sim.provinces),
                 sim.plan.code)
    else:
        log.info("simulated now: %s (seed %s, scale %s, province %s%s)", sim.now().isoformat(), sim.seed,
                 sim.cfg.scale, sim.plan.code,
                 f" = {'+'.join(sim.plan.predecessors)} until the 1/7/2025 reform" if sim.reform else "")
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    if args.drop_dir:
        folder = Path(args.drop_dir)
        folder.mkdir(parents=True, exist_ok=True)
        tasks.append(asyncio.create_task(
            _drop_loop(state, folder, date.fromisoformat(args.drop_start), args.drop_every, stop)))
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    _stop()  # one server failing (e.g. port taken) stops the others
    await asyncio.gather(*tasks, return_exceptions=True)
    for t in done:
        if t.exception():
            raise t.exception()
    if any(not s.started for s in servers):
        raise SystemExit("a simulator server failed to start (port in use?)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m chiso_simulator", description="Simulated provincial source systems")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the one-stop shop, e-document, national reporting and national portal "
                                     "APIs and fill the drop")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--oss-port", type=int, default=8701)
    s.add_argument("--edoc-port", type=int, default=8702)
    s.add_argument("--national-port", type=int, default=8703)
    s.add_argument("--portal-port", type=int, default=int(os.environ.get("CHISO_PORTAL_PORT") or 8704),
                   help="the national portal's published 766 index (sources.md §5); env CHISO_PORTAL_PORT")
    s.add_argument("--drop-dir", help="e-signature drop folder (omit: no files)")
    s.add_argument("--drop-start", default="2024-01-01", help="first day of e-signature files")
    s.add_argument("--drop-every", type=float, default=60.0, help="seconds between drop-folder refreshes")
    s.add_argument("--seed", type=int, default=int(os.environ.get("CHISO_SIM_SEED", "26")))
    s.add_argument("--scale", type=float, default=float(os.environ.get("CHISO_SIM_SCALE", "1")))
    s.add_argument("--province", default=os.environ.get("CHISO_PROVINCE") or "25",
                   help="GSO code: a province of 1/7/2025 (simulated across the reform, with its predecessors "
                        "before it) or an old province alone (e.g. 26); or a comma list of provinces of 1/7/2025, "
                        "or 'all' (the 34), served by one set of systems; env CHISO_PROVINCE, default 25")
    s.add_argument("--era", choices=("auto", "legacy"), default=os.environ.get("CHISO_PROVINCE_ERA") or "auto",
                   help="legacy: the old province of that code alone, no reform (e.g. 25 = old Phú Thọ); "
                        "env CHISO_PROVINCE_ERA")
    s.add_argument("--today", help="simulated date, or an ISO instant (the clock keeps running from it); "
                                      "env CHISO_SIM_TODAY")
    s.add_argument("--frozen", action="store_true",
                   help="the clock stands at the --today instant (a replayed past: nothing arrives late); "
                        "env CHISO_SIM_CLOCK=frozen")
    s.add_argument("--client-id")
    s.add_argument("--client-secret")
    s.add_argument("--api-key")
    s.add_argument("--national-token")
    s.add_argument("--national-store",
                   help="journal of the documents the national receiver accepted (JSON lines), kept across restarts; "
                        "env CHISO_SIM_NATIONAL_STORE (omit: it forgets them when it stops)")
    s.add_argument("--token-ttl", type=float, default=300.0, help="OAuth token lifetime, seconds")
    s.add_argument("--faults", help="preset (none|realistic), JSON object or JSON file; env CHISO_SIM_FAULTS")
    s.add_argument("--log-level", default="info")
    s.add_argument("--access-log", action="store_true")
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        asyncio.run(serve(args))
