"""Generated credentials: kept between starts, private to the owner, overridable from the environment, and
signing keys long enough for HS256."""

from __future__ import annotations

import base64
import json
import stat

from chiso.stack import credentials


def _bytes(token: str) -> int:
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def test_generated_once_kept_and_private(tmp_path):
    first = credentials.load(tmp_path)
    assert set(credentials.NAMES) <= set(first) and len(set(first.values())) == len(first)
    assert credentials.load(tmp_path) == first
    path = tmp_path / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_signing_keys_are_at_least_32_bytes(tmp_path):
    creds = credentials.load(tmp_path)
    assert all(_bytes(creds[k]) >= 32 for k in credentials.SIGNING_KEYS)
    assert _bytes(creds["pg_loader"]) == 18


def test_existing_keys_are_not_rotated_and_environment_wins(tmp_path, monkeypatch):
    (tmp_path / "secrets.json").write_text(json.dumps({"superset_secret_key": "old-short-key"}))
    assert credentials.load(tmp_path)["superset_secret_key"] == "old-short-key"
    monkeypatch.setenv("CHISO_SECRET_PG_READER", "from-the-vault")
    assert credentials.load(tmp_path)["pg_reader"] == "from-the-vault"
    assert json.loads((tmp_path / "secrets.json").read_text())["pg_reader"] != "from-the-vault"
