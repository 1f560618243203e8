"""Credentials of the local stack, generated on first start and kept outside git (var/secrets.json).

Any value can be supplied from the environment instead (CHISO_SECRET_<NAME>), which is how a
deployment injects its own.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

NAMES = (
    "pg_superuser",  # cluster bootstrap superuser; used only to create roles and databases
    "pg_loader",  # writes raw
    "pg_transformer",  # reads raw, builds staging/intermediate/marts (dbt)
    "pg_reader",  # reads marts only (Superset, exports read-side)
    "pg_airflow",
    "pg_superset",
    "airflow_admin",
    "superset_admin",
    "superset_viewer",
    "superset_secret_key",
    "oss_client_secret",
    "edoc_api_key",
    "national_token",
    "airflow_secret_key",
    "airflow_jwt_secret",
    "redis_password",  # Celery's broker (CHISO_EXECUTOR=celery)
)
# Signing keys (sessions, JWTs, Superset's encrypted fields) get 48 random bytes: HS256 wants at least 32
# (PyJWT warns below). Passwords and tokens get 18. Keys already in secrets.json are kept: rotating
# Superset's would orphan what it encrypted with the old one.
SIGNING_KEYS = ("superset_secret_key", "airflow_secret_key", "airflow_jwt_secret")


def load(home: Path) -> dict[str, str]:
    path = home / "secrets.json"
    data: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for name in NAMES:
        if name not in data:
            data[name] = secrets.token_urlsafe(48 if name in SIGNING_KEYS else 18)
            changed = True
    if "airflow_fernet_key" not in data:
        # Fernet wants 32 url-safe base64-encoded bytes.
        data["airflow_fernet_key"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
        changed = True
    if changed:
        home.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.chmod(tmp, 0o600)
        tmp.replace(path)
    for name in NAMES:
        override = os.environ.get(f"CHISO_SECRET_{name.upper()}")
        if override:
            data[name] = override
    return data
