"""No secret in git, and none in `chiso status` beyond what its user needs (scale.md, Security).

Git: no tracked file holds a credential of the shape the stack generates (chiso.stack.credentials) nor a connection
string with a literal password, and the files secrets live in are ignored. Status: the operator's logins only (the
Airflow and Superset accounts, the read-only marts URI); the roles that write appear without their password. The
running stack's status and logs are checked in tests/e2e/test_stack.py::test_no_secret_in_status_or_logs."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from chiso.settings import REPO_ROOT
from chiso.stack import credentials

# token_urlsafe(18) / token_urlsafe(48) / a Fernet key: what credentials.load generates
SHAPE = re.compile(r"(?<![\w-])([\w-]{24}|[\w-]{64}|[\w-]{43}=)(?![\w=-])", re.ASCII)
# the pieces of an identifier (stg_one_stop_shop__units, NATIVE_FILTER-qd766-unit, totalFeeDossierFormality, hex
# digests): one case, or camel case with digits only at the end. A generated token almost never splits that way.
WORD = re.compile(r"[a-z0-9]+|[A-Z0-9]+|(?:[a-z]+|[A-Z][a-z]+)(?:[A-Z][a-z]+)*[0-9]*")
# scheme://user:password@ ; placeholders (${VAR…}, ***, <…>, {{…}}, XXXX, the word itself) are not passwords
URI_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@'\"]*:([^\s@'\"]+)@")
PLACEHOLDER = re.compile(r"\$\{.*|\*+|<.*>|\{\{.*|X+|password")
# Where the stack keeps secrets (local, docker-compose's .env and secrets/): never tracked.
SECRET_FILES = ("var/secrets.json", "var/e2e-stack/secrets.json", ".env", "secrets/airflow_passwords.json")
# What `status` may show: the logins its user types into the UIs, the loader's warehouse URI (operations.md's
# contract) and the read-only marts URI the README offers.
STATUS_SECRETS = {"airflow_admin", "superset_admin", "superset_viewer", "pg_loader", "pg_reader"}


def looks_generated(token: str) -> bool:
    if sum(c.isupper() for c in token) < 2 or sum(c.islower() for c in token) < 2:
        return False
    return not all(WORD.fullmatch(piece) for piece in re.split(r"[-_]", token) if piece)


def generated_secrets_in(text: str) -> list[str]:
    return [m.group(1) for m in SHAPE.finditer(text) if looks_generated(m.group(1))]


def literal_passwords_in(text: str) -> list[str]:
    return [m.group(0) for m in URI_PASSWORD.finditer(text) if not PLACEHOLDER.fullmatch(m.group(1))]


def tracked_texts() -> dict[str, str]:
    names = subprocess.run(["git", "-C", str(REPO_ROOT), "ls-files", "-z"], capture_output=True, text=True,
                           check=True).stdout.split("\0")  # fmt: skip
    texts = {}
    for name in filter(None, names):
        path = REPO_ROOT / name
        if path.is_file():
            try:
                texts[name] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:  # screenshots, the XLSX template: no text to leak into
                continue
    return texts


@pytest.fixture(scope="module")
def tracked() -> dict[str, str]:
    return tracked_texts()


def test_the_detectors_find_what_the_stack_generates(tmp_path):
    """Every generated credential is found, alone, quoted or inside a connection string; identifiers are not."""
    creds = credentials.load(tmp_path)
    for value in creds.values():
        assert generated_secrets_in(f"password: '{value}'\n") == [value]
        assert generated_secrets_in(f"postgresql://chiso_loader:{value}@db:5432/chiso") == [value]
        assert literal_passwords_in(f"postgresql://chiso_loader:{value}@db:5432/chiso")
    identifiers = "stg_one_stop_shop__units NATIVE_FILTER-qd766-unit totalFeeDossierFormality " + "0b7ef00a" * 8
    assert generated_secrets_in(identifiers) == []
    assert literal_passwords_in("redis://:hunter2@redis:6379/0") == ["redis://:hunter2@"]
    assert literal_passwords_in("x postgres://airflow:hunter2@postgres/airflow") == ["postgres://airflow:hunter2@"]
    for placeholder in ("${PG_AIRFLOW_PASSWORD:?set it}", "***", "<password>", "XXXXXXXXXX"):
        assert literal_passwords_in(f"postgresql://airflow:{placeholder}@postgres:5432/airflow") == []


def test_no_generated_credential_in_git(tracked):
    found = {name: hits for name, text in tracked.items() if (hits := generated_secrets_in(text))}
    assert not found, found


def test_no_literal_password_in_git(tracked):
    """Outside tests (whose fake passwords test the quoting), a connection string names its password only by a
    placeholder or a variable."""
    found = {name: hits for name, text in tracked.items()
             if not name.startswith("tests/") and (hits := literal_passwords_in(text))}  # fmt: skip
    assert not found, found


def test_secret_files_are_ignored_and_untracked(tracked):
    r = subprocess.run(["git", "-C", str(REPO_ROOT), "check-ignore", *SECRET_FILES], capture_output=True, text=True)
    assert sorted(r.stdout.split()) == sorted(SECRET_FILES)
    names = {Path(name).name for name in tracked}
    assert not names & {"secrets.json", ".env", "airflow_passwords.json", "id_rsa", "id_ed25519"}
    assert not [name for name in tracked if name.endswith((".pem", ".key", ".p12"))]


def test_the_local_stacks_secrets_are_not_in_git(tracked):
    """The secrets of any stack started from this checkout (var/secrets.json, the e2e stack's) are in no tracked
    file. Runs where a stack has been started: a developer's checkout, CI after the end-to-end tests."""
    files = list((REPO_ROOT / "var").rglob("secrets.json")) if (REPO_ROOT / "var").exists() else []
    if not files:
        pytest.skip("no stack was started from this checkout")
    for path in files:
        values = set(json.loads(path.read_text()).values())
        leaked = {name for name, text in tracked.items() if any(v in text for v in values)}
        assert not leaked, f"secrets of {path} in {sorted(leaked)}"


@pytest.fixture
def stopped_stack(tmp_path, monkeypatch):
    """A stack's home with its generated secrets and nothing running (ports nobody uses)."""
    monkeypatch.setenv("CHISO_HOME", str(tmp_path))
    for var, port in (("CHISO_PG_PORT", 5542), ("CHISO_AIRFLOW_PORT", 8200), ("CHISO_SUPERSET_PORT", 8208),
                      ("CHISO_DOCS_PORT", 8209), ("CHISO_OSS_PORT", 8821), ("CHISO_EDOC_PORT", 8822),
                      ("CHISO_NATIONAL_PORT", 8823), ("CHISO_PORTAL_PORT", 8824)):  # fmt: skip
        monkeypatch.setenv(var, str(port + 40))
    return tmp_path, credentials.load(tmp_path)


def test_status_shows_only_the_logins_its_user_needs(stopped_stack, capsys):
    from chiso import cli

    home, secrets = stopped_stack
    cli.main(["status", "--json"])
    out = capsys.readouterr().out
    status = json.loads(out)
    assert {name for name, value in secrets.items() if value in out} == STATUS_SECRETS
    assert status["warehouse"]["uri"].startswith(f"postgresql://chiso_loader:{secrets['pg_loader']}@127.0.0.1:")
    for key, user in (("transformer_uri", "chiso_transformer"), ("admin_uri", "postgres")):
        assert status["warehouse"][key].startswith(f"postgresql://{user}:***@127.0.0.1:"), key
    assert status["warehouse"]["secrets_file"] == str(home / "secrets.json")  # where the others are
    cli.main(["status"])
    text = capsys.readouterr().out
    assert {name for name, value in secrets.items() if value in text} <= STATUS_SECRETS
