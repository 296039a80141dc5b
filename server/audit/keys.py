"""The audit chain's HMAC keys: kept outside the database, named by an id stored in every row.

Where they come from (read and validated once, when a process starts: ``install``):

- ``audit_keys`` (``ASSETGATE_AUDIT_KEYS``): ``id:hex`` entries, comma-separated, newest first; or,
  when that is empty,
- ``<instance>/audit.keys`` (mode 0600): one ``id hex`` per line, newest first, made with one fresh
  key the first time a process needs it.

New rows are keyed with the first (newest) key; a row is checked with the key its ``key_id`` names,
so an old key stays in the list for as long as its rows are kept. Rotation
(``assetgate audit rotate-key``) puts a new key first; processes pick it up when they restart.
A key is 32 random bytes. Someone with write access to the database only cannot recompute a row's
MAC; someone who holds a key can, for rows of that key (docs/audit.md).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from server.config import Settings, ensure_instance

KEY_FILE = "audit.keys"
LEGACY = "legacy"  # the key id of rows made before the keyed chain (plain SHA-256, no key)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_HEX = re.compile(r"[0-9a-fA-F]{64,128}")
_INFO = "assetgate.audit_keys"


class KeyProblem(ValueError):
    """Audit keys that cannot be used (bad format, duplicate ids, a file others may read)."""


@dataclass(frozen=True)
class Keyring:
    """Every audit key by id; ``current`` keys new rows."""

    keys: dict[str, bytes]
    current: str
    source: str  # where they came from, for messages: the environment or the file's path

    @property
    def current_key(self) -> bytes:
        return self.keys[self.current]

    def get(self, key_id: str) -> bytes | None:
        return self.keys.get(key_id)


def parse(entries: list[tuple[str, str]], source: str) -> Keyring:
    """A keyring from (id, hex) pairs, newest first; every problem is named."""
    if not entries:
        raise KeyProblem(f"no audit key in {source}")
    keys: dict[str, bytes] = {}
    for key_id, hex_key in entries:
        if not _ID.fullmatch(key_id) or key_id == LEGACY:
            raise KeyProblem(f"audit key id {key_id[:40]!r} in {source}: 1 to 32 of A-Z a-z 0-9 _ . - "
                             f"(and not {LEGACY!r})")
        if not _HEX.fullmatch(hex_key):
            raise KeyProblem(f"audit key {key_id} in {source}: 64 to 128 hex digits (32 to 64 bytes) expected")
        if key_id in keys:
            raise KeyProblem(f"audit key id {key_id} appears twice in {source}")
        keys[key_id] = bytes.fromhex(hex_key)
    return Keyring(keys, entries[0][0], source)


def _from_setting(text: str) -> list[tuple[str, str]]:
    pairs = []
    for entry in (e.strip() for e in text.split(",")):
        if entry:
            key_id, _, hex_key = entry.partition(":")
            pairs.append((key_id.strip(), hex_key.strip()))
    return pairs


def _from_file(path: Path) -> list[tuple[str, str]]:
    pairs = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key_id, _, hex_key = line.partition(" ")
            pairs.append((key_id.strip(), hex_key.strip()))
    return pairs


def new_entry() -> tuple[str, str]:
    """A fresh key and an id that says when it was made (and is unlikely to clash)."""
    return f"{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(3)}", secrets.token_bytes(32).hex()


def key_file(settings: Settings) -> Path:
    return settings.instance_path / KEY_FILE


def _private(path: Path) -> None:
    """The key file must be the service user's alone: narrow it, or refuse it when that is not possible."""
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o600)
        except PermissionError:
            raise KeyProblem(f"{path} may be read by others (mode {path.stat().st_mode & 0o777:o}) and is not "
                             "ours to narrow: chmod 600 it") from None


def _write_new(path: Path, lines: list[str]) -> None:
    """Write the key file whole (0600) next to it, then rename it over: never half a key file."""
    temporary = path.with_name(path.name + ".new")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(line + "\n" for line in lines))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def load(settings: Settings) -> Keyring:
    """The configured keys, or the instance folder's (made with one fresh key the first time)."""
    if settings.audit_keys.strip():
        return parse(_from_setting(settings.audit_keys), "ASSETGATE_AUDIT_KEYS")
    path = key_file(settings)
    if not path.exists():
        ensure_instance(settings)
        key_id, hex_key = new_entry()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process (the web, the consumer) made it just now
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(f"# AssetGate audit chain keys, newest first (docs/audit.md)\n{key_id} {hex_key}\n")
    _private(path)
    return parse(_from_file(path), str(path))


def rotate(settings: Settings) -> tuple[str, str | None]:
    """Put a new key first. Returns its id and, when the keys come from the environment (which this
    process cannot change), the new ``id:hex`` entry the admin must put first there."""
    key_id, hex_key = new_entry()
    if settings.audit_keys.strip():
        parse(_from_setting(settings.audit_keys), "ASSETGATE_AUDIT_KEYS")  # the old ones must be sound
        return key_id, f"{key_id}:{hex_key}"
    load(settings)  # made if missing, and checked
    path = key_file(settings)
    old = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    _write_new(path, ["# AssetGate audit chain keys, newest first (docs/audit.md)", f"{key_id} {hex_key}", *old])
    return key_id, None


def install(factory: sessionmaker[Session], settings: Settings) -> Keyring:
    """Give every session of ``factory`` the audit keys (read and checked here, once)."""
    keyring = load(settings)
    info: dict[str, Any] = dict(factory.kw.get("info") or {})
    info[_INFO] = keyring
    factory.configure(info=info)
    return keyring


def keyring_of(session: Session) -> Keyring:
    found = session.info.get(_INFO)
    if found is None:
        raise RuntimeError("this session has no audit keys: make its factory with server.audit.install")
    return found  # type: ignore[no-any-return]
