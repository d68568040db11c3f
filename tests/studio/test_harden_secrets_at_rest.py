"""Saved connections' secrets are encrypted in the SQLite file (a Fernet key beside it, mode 0600):
the raw database never holds one, and secrets an older studio stored in plaintext are encrypted
at start-up, their old text gone from the file."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sftforge.studio import connections
from sftforge.studio.app import create_app
from sftforge.studio.errors import ApiError
from sftforge.studio.settings import StudioSettings
from sftforge.studio.store import Store

SECRET = "Pa55-at-rest-Zq81w"
KEY_ID = "AKIA-at-rest-77QX"


def _raw(home: Path) -> bytes:
    """Every byte SQLite keeps on disk for the studio: the database and its WAL."""
    return b"".join(p.read_bytes() for p in sorted(home.glob("studio.sqlite3*")))


def test_a_saved_secret_never_reaches_the_database_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    app = create_app(StudioSettings(home=home, open_browser=False), run_jobs=False)
    with TestClient(app) as client:
        made = client.post("/api/connections", json={
            "name": "nas", "kind": "s3", "settings": {"endpoint": "https://s3.example.com"},
            "secrets": {"access_key_id": KEY_ID, "secret_access_key": SECRET}})  # fmt: skip
        assert made.status_code == 201, made.text
        assert made.json()["secret_set"] is True and SECRET not in made.text
        conn_id = made.json()["id"]
        changed = client.patch(f"/api/connections/{conn_id}",
                               json={"secrets": {"secret_access_key": SECRET + "-2"}})  # fmt: skip
        assert changed.status_code == 200, changed.text
    store = app.state.store
    assert connections.load_secrets(store, conn_id) == {
        "access_key_id": KEY_ID, "secret_access_key": SECRET + "-2"}  # fmt: skip
    stored = store.one("SELECT secrets_json FROM connection_secrets")["secrets_json"]
    assert stored.startswith("fernet:")
    raw = _raw(home)
    assert len(raw) > 0 and SECRET.encode() not in raw and KEY_ID.encode() not in raw
    key = home / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_plaintext_secrets_of_an_older_studio_are_encrypted_at_start_up(tmp_path: Path) -> None:
    home = tmp_path / "home"
    store = Store(home)
    store.ensure_schema("connections", connections._SCHEMA)
    with store.tx() as db:  # what an older studio wrote
        db.execute("INSERT INTO connections VALUES('c_old', 'ftp box', 'ftp', ?, 'local', 't', 't')",
                   (json.dumps({"host": "ftp.example.com"}),))  # fmt: skip
        db.execute("INSERT INTO connection_secrets VALUES('c_old', ?)",
                   (json.dumps({"password": SECRET}),))  # fmt: skip
    store.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    assert SECRET.encode() in _raw(home)  # the precondition: it is there in plaintext
    assert not (home / "secret.key").exists()

    app = create_app(StudioSettings(home=home, open_browser=False), run_jobs=False)
    assert SECRET.encode() not in _raw(home)
    assert connections.load_secrets(app.state.store, "c_old") == {"password": SECRET}
    with TestClient(app) as client:
        shown = client.get("/api/connections/c_old").json()
        assert shown["secret_set"] is True and SECRET not in json.dumps(shown)
    with sqlite3.connect(home / "studio.sqlite3") as db:
        (stored,) = db.execute("SELECT secrets_json FROM connection_secrets").fetchone()
    assert stored.startswith("fernet:")


def test_a_replaced_key_is_one_clear_error_and_a_loose_key_file_is_narrowed(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    app = create_app(StudioSettings(home=home, open_browser=False), run_jobs=False)
    made = connections.create_connection(app.state.store, "local", name="u", kind="url",
                                         settings={"base_url": "https://data.example.com"},
                                         secrets={"password": SECRET})  # fmt: skip
    key = home / "secret.key"
    key.chmod(0o644)
    from cryptography.fernet import Fernet

    from sftforge.studio import secretbox

    secretbox._BOXES.clear()
    assert connections.load_secrets(app.state.store, made.id) == {"password": SECRET}
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    key.write_bytes(Fernet.generate_key())
    secretbox._BOXES.clear()
    with pytest.raises(ApiError) as err:
        connections.load_secrets(app.state.store, made.id)
    assert err.value.status == 500 and "secret.key" in err.value.message
    assert SECRET not in err.value.message
