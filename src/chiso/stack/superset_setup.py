"""Superset users and dashboards-as-code: build the asset bundle from `superset/assets/` and import it
through the REST assets importer with overwrite (the dashboard importer would ignore edited charts)."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import httpx

from chiso.settings import Settings
from chiso.stack import components as comp

BUNDLE_ROOT = "chiso_bundle"
DATABASE_FILE = "databases/chiso_warehouse.yaml"


def _superset(s: Settings, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(s.venv_bin("superset") / "superset"), *args], env=env, capture_output=True, text=True, timeout=300
    )


def ensure_users(s: Settings, creds: dict[str, str], env: dict) -> None:
    """Create the admin once (a stamp avoids the 15 s CLI on every start); the viewer is made over the API."""
    stamp = comp.superset_home(s) / ".admin"
    if stamp.exists() and stamp.read_text() == creds["superset_admin"]:
        return
    r = _superset(
        s, env, "fab", "create-admin", "--username", comp.SUPERSET_ADMIN, "--firstname", "Quản trị",
        "--lastname", "chiso", "--email", "admin@chiso.local", "--password", creds["superset_admin"],
    )
    if r.returncode != 0 or "already exist" in (r.stdout + r.stderr):
        r = _superset(s, env, "fab", "reset-password", "--username", comp.SUPERSET_ADMIN,
                      "--password", creds["superset_admin"])
        if r.returncode != 0:
            raise RuntimeError(f"cannot set the Superset admin password: {r.stderr[-1000:]}")
    stamp.write_text(creds["superset_admin"])


def build_bundle(s: Settings, assets_dir: Path | None = None) -> bytes:
    """Zip the committed YAML under one top folder, filling in this machine's warehouse host and port."""
    assets_dir = assets_dir or s.repo / "superset" / "assets"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(assets_dir.rglob("*.yaml")):
            text = path.read_text(encoding="utf-8")
            text = text.replace("${CHISO_PG_HOST}", s.host).replace("${CHISO_PG_PORT}", str(s.pg_port))
            zf.writestr(f"{BUNDLE_ROOT}/{path.relative_to(assets_dir).as_posix()}", text)
    return buf.getvalue()


class SupersetApi:
    """Logged-in session on Superset's REST API (JWT + CSRF token, as the web app does)."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=120)
        r = self.http.post(
            "/api/v1/security/login",
            json={"username": user, "password": password, "provider": "db", "refresh": True},
        )
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        csrf = self.http.get("/api/v1/security/csrf_token/")
        csrf.raise_for_status()
        self.http.headers["X-CSRFToken"] = csrf.json()["result"]
        self.http.headers["Referer"] = url

    def get(self, path: str, **kw) -> dict:
        r = self.http.get(path, **kw)
        r.raise_for_status()
        return r.json()


def api(s: Settings, creds: dict[str, str]) -> SupersetApi:
    return SupersetApi(f"http://{s.host}:{s.superset_port}", comp.SUPERSET_ADMIN, creds["superset_admin"])


def import_assets(s: Settings, creds: dict[str, str], assets_dir: Path | None = None) -> None:
    client = api(s, creds)
    bundle = build_bundle(s, assets_dir)
    r = client.http.post(
        "/api/v1/assets/import/",
        files={"bundle": ("bundle.zip", bundle, "application/zip")},
        data={
            "passwords": json.dumps({DATABASE_FILE: creds["pg_reader"]}),
            "overwrite": "true",
        },
    )
    if r.status_code != 200:
        raise RuntimeError(f"Superset asset import failed: {r.status_code} {r.text[:2000]}")
