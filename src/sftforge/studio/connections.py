"""Saved connections: where remote data lives (URL, FTP, S3-compatible) and how to log in, with
the credentials kept apart. (Hugging Face datasets are read from disk or the local hub cache,
which need no login.)

Settings (host, port, endpoint, bucket, user name) are in table ``connections`` and are what
the browser sees; the credentials (passwords, S3 keys) are in table
``connection_secrets`` and never leave the server: every answer says ``"secret_set": true``
instead. The secrets are stored encrypted (``secretbox``: a Fernet key in ``<home>/secret.key``,
mode 0600), so the database file alone holds no usable credential; rows saved before that are
encrypted the first time the table is used (``encrypt_existing``). Each secret read from the table
is registered with ``sftforge.io.remote``'s masking (``scrub``), so an error message or log line
that would carry it shows ``***``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from ..io import remote
from .errors import ApiError
from .secretbox import PREFIX, box_for
from .store import Store, new_id, now_iso

__all__ = [
    "KINDS",
    "Connection",
    "create_connection",
    "delete_connection",
    "encrypt_existing",
    "get_connection",
    "list_connections",
    "load_secrets",
    "remote_access",
    "update_connection",
    "url_with_login",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS connections(
    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, settings_json TEXT NOT NULL,
    created_by TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS connection_secrets(
    connection_id TEXT PRIMARY KEY REFERENCES connections(id) ON DELETE CASCADE,
    secrets_json TEXT NOT NULL
);
"""

# kind -> (settings it takes, secrets it takes)
KINDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "url": (frozenset({"base_url", "username"}), frozenset({"password"})),
    "ftp": (frozenset({"host", "port", "username"}), frozenset({"password"})),
    "s3": (
        frozenset({"endpoint", "region", "bucket"}),
        frozenset({"access_key_id", "secret_access_key"}),
    ),
    # an OpenAI-compatible endpoint for the studio's LLM steps (runs.py)
    "llm": (frozenset({"base_url", "model"}), frozenset({"api_key"})),
}


@dataclass(frozen=True)
class Connection:
    """A saved connection as the browser may see it: no secret, only whether one is set."""

    id: str
    name: str
    kind: str
    settings: dict[str, Any]
    secret_set: bool
    created_by: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "settings": self.settings,
            "secret_set": self.secret_set,
            "created_by": self.created_by,
        }


def _schema(store: Store) -> None:
    store.ensure_schema("connections", _SCHEMA)
    if store.home not in _ENCRYPTED:
        encrypt_existing(store)


_ENCRYPTED: set[Path] = set()  # the homes whose stored secrets were checked in this process


def _seal(store: Store, secrets: dict[str, Any]) -> str:
    return box_for(store.home).seal(json.dumps(secrets))


def _unseal(store: Store, stored: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(box_for(store.home).open(stored))
    return found


def encrypt_existing(store: Store) -> int:
    """Encrypt the secrets stored in plaintext by an older studio; returns how many rows. The
    old text is overwritten in the file (``secure_delete``) and the write-ahead log is folded
    into the database and emptied, so no copy of it stays on disk."""
    store.ensure_schema("connections", _SCHEMA)
    rows = store.all(
        "SELECT connection_id, secrets_json FROM connection_secrets WHERE secrets_json NOT LIKE ?",
        (PREFIX + "%",),
    )
    if rows:
        db = store.conn()
        db.execute("PRAGMA secure_delete=ON")
        with store.tx() as tx:
            for row in rows:
                tx.execute("UPDATE connection_secrets SET secrets_json=? WHERE connection_id=?",
                           (_seal(store, json.loads(row["secrets_json"])), row["connection_id"]))  # fmt: skip
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    _ENCRYPTED.add(store.home)
    return len(rows)


def _check(kind: str, settings: dict[str, Any], secrets: dict[str, Any]) -> None:
    if kind not in KINDS:
        raise ApiError(
            400,
            "invalid",
            f"unknown connection kind {kind!r}.",
            field="kind",
            hint=f"one of {', '.join(KINDS)}",
        )
    allowed, allowed_secrets = KINDS[kind]
    for key in settings:
        if key not in allowed:
            where = "secrets" if key in allowed_secrets else None
            raise ApiError(
                400,
                "invalid",
                f"a {kind} connection has no setting {key!r}"
                + (": credentials go in 'secrets'." if where else "."),
                field=f"settings.{key}",
                hint=f"settings: {', '.join(sorted(allowed))}",
            )
    for key, value in secrets.items():
        if key not in allowed_secrets:
            raise ApiError(
                400,
                "invalid",
                f"a {kind} connection has no secret {key!r}.",
                field=f"secrets.{key}",
                hint=f"secrets: {', '.join(sorted(allowed_secrets))}",
            )
        if value is not None and not isinstance(value, str):
            raise ApiError(400, "invalid", f"secret {key!r} must be text.", field=f"secrets.{key}")
    for key in ("base_url", "endpoint"):
        value = settings.get(key)
        if value is None:
            continue
        parts = urlsplit(str(value))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError(
                400, "invalid", f"{key} must be an http(s) URL.", field=f"settings.{key}"
            )
        if parts.password is not None or "@" in parts.netloc:
            raise ApiError(
                400,
                "invalid",
                f"{key} may not carry a login: credentials go in 'secrets'.",
                field=f"settings.{key}",
                hint="put the user in 'username', the password in secrets",
            )
    if "port" in settings and not (
        isinstance(settings["port"], int) and 0 < settings["port"] < 65536
    ):
        raise ApiError(
            400, "invalid", "port must be a number from 1 to 65535.", field="settings.port"
        )


def _public(store: Store, row: dict[str, Any]) -> Connection:
    secret = store.one(
        "SELECT secrets_json FROM connection_secrets WHERE connection_id=?", (row["id"],)
    )
    has = bool(secret and any(_unseal(store, secret["secrets_json"]).values()))
    return Connection(
        row["id"],
        row["name"],
        row["kind"],
        json.loads(row["settings_json"]),
        has,
        row["created_by"],
    )


def create_connection(
    store: Store,
    user: str,
    *,
    name: str,
    kind: str,
    settings: dict[str, Any],
    secrets: dict[str, Any] | None = None,
) -> Connection:
    """Save a connection; its ``secrets`` go to their own table."""
    _schema(store)
    secrets = {k: v for k, v in (secrets or {}).items() if v}
    _check(kind, settings, secrets)
    if not name.strip():
        raise ApiError(400, "invalid", "the connection needs a name.", field="name")
    conn_id = new_id("c")
    at = now_iso()
    with store.tx() as db:
        db.execute(
            "INSERT INTO connections VALUES(?,?,?,?,?,?,?)",
            (conn_id, name.strip(), kind, json.dumps(settings, ensure_ascii=False), user, at, at),
        )
        db.execute("INSERT INTO connection_secrets VALUES(?,?)", (conn_id, _seal(store, secrets)))
    return get_connection(store, conn_id)


def _row(store: Store, conn_id: str) -> dict[str, Any]:
    _schema(store)
    row = store.one("SELECT * FROM connections WHERE id=?", (conn_id,))
    if row is None:
        raise ApiError(404, "not_found", f"no connection {conn_id}.", field="connection_id")
    return row


def get_connection(store: Store, conn_id: str) -> Connection:
    return _public(store, _row(store, conn_id))


def list_connections(store: Store) -> list[Connection]:
    _schema(store)
    return [_public(store, r) for r in store.all("SELECT * FROM connections ORDER BY created_at")]


def update_connection(
    store: Store,
    conn_id: str,
    *,
    name: str | None = None,
    settings: dict[str, Any] | None = None,
    secrets: dict[str, Any] | None = None,
) -> Connection:
    """Change a connection; a secret given as ``null`` or ``""`` is removed, one left out kept."""
    row = _row(store, conn_id)
    new_settings = json.loads(row["settings_json"]) if settings is None else settings
    old: dict[str, Any] = dict(load_secrets(store, conn_id))
    for key, value in (secrets or {}).items():
        old[key] = value or None
    merged = {k: v for k, v in old.items() if v}
    _check(row["kind"], new_settings, merged)
    with store.tx() as db:
        db.execute(
            "UPDATE connections SET name=?, settings_json=?, updated_at=? WHERE id=?",
            (
                (name or row["name"]).strip(),
                json.dumps(new_settings, ensure_ascii=False),
                now_iso(),
                conn_id,
            ),
        )
        db.execute(
            "INSERT OR REPLACE INTO connection_secrets VALUES(?,?)", (conn_id, _seal(store, merged))
        )
    return get_connection(store, conn_id)


def delete_connection(store: Store, conn_id: str) -> None:
    _row(store, conn_id)
    with store.tx() as db:
        db.execute("DELETE FROM connection_secrets WHERE connection_id=?", (conn_id,))
        db.execute("DELETE FROM connections WHERE id=?", (conn_id,))


def load_secrets(store: Store, conn_id: str) -> dict[str, str]:
    """The connection's secrets, for the server's own use only; each is registered with the
    remote module's masking first, so no message can show it."""
    _schema(store)
    row = store.one("SELECT secrets_json FROM connection_secrets WHERE connection_id=?", (conn_id,))
    found: dict[str, str] = _unseal(store, row["secrets_json"]) if row else {}
    remote._remember(*found.values())
    return found


def url_with_login(conn: Connection, secrets: dict[str, str], path: str) -> str:
    """The URL of ``path`` on a url/ftp connection, with the login in it for the reader (the
    reader masks it; this URL is never shown or stored)."""
    settings = conn.settings
    user = settings.get("username")
    password = secrets.get("password")
    login = ""
    if user:
        login = quote(str(user), safe="")
        if password:
            login += ":" + quote(password, safe="")
        login += "@"
    if conn.kind == "ftp":
        port = f":{settings['port']}" if settings.get("port") else ""
        return f"ftp://{login}{settings['host']}{port}/{path.lstrip('/')}"
    if conn.kind == "url":
        base = urlsplit(str(settings["base_url"]))
        rel = path.lstrip("/")
        joined = base.path.rstrip("/") + "/" + rel if rel else base.path
        return base._replace(netloc=login + base.netloc, path=joined).geturl()
    raise ApiError(400, "invalid", f"a {conn.kind} connection has no URL.", field="connection_id")


def remote_access(
    conn: Connection | None, secrets: dict[str, str], guard: Any | None
) -> remote.Access:
    """How ``sftforge.io.remote`` reaches a file of ``conn`` (None: no connection), with the
    studio's URL guard (``netguard.UrlGuard``) when given."""
    check_url = guard.url if guard is not None else None
    check_address = guard.address if guard is not None else None
    if conn is None or conn.kind != "s3":
        return remote.Access(check_url=check_url, check_address=check_address)
    return remote.Access(
        s3_endpoint=conn.settings.get("endpoint"),
        s3_key_id=secrets.get("access_key_id"),
        s3_secret=secrets.get("secret_access_key"),
        s3_region=conn.settings.get("region"),
        check_url=check_url,
        check_address=check_address,
    )
