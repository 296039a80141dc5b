"""How one audit row is sealed into the chain, and how a stored row is checked.

A keyed row (``key_id`` names a key): ``hash`` = HMAC-SHA256(key, previous hash + "\\n" + the row's
canonical JSON, its ``key_id`` and its ``inserted`` rows included). Without the key nobody can
make a row that checks, nor recompute the rows after an edited one.

A legacy row (``key_id`` = "legacy", made before the keyed chain): ``hash`` = SHA-256 over the same
kind of input without a key, exactly as it was computed then. Anyone can recompute such a hash:
a legacy row is only protected by the keyed rows after it (the first keyed row's MAC covers the
last legacy row's hash) and by the checkpoints. A legacy row after the first keyed row is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from server.audit.keys import LEGACY, Keyring
from server.audit.report import EDITED, LEGACY_AFTER_KEYED, LINK, UNKNOWN_KEY

GENESIS = "0" * 64
LEGACY_FIELDS = ("actor", "source", "action", "entity", "entity_id", "before", "after")
KEYED_FIELDS = (*LEGACY_FIELDS, "inserted", "key_id")
COLUMNS = ("id", "at", *KEYED_FIELDS, "prev_hash", "hash")  # what the check reads of each row


def _at(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def legacy_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """The pre-keyed hash, byte for byte as ``server/audit.py`` computed it before revision 0034."""
    body = {name: row[name] for name in LEGACY_FIELDS}
    body["at"] = _at(row["at"])
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode()
    return hashlib.sha256(prev_hash.encode() + b"\n" + text).hexdigest()


JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS  # the database's JSON encoder's too (server.db)
JSON_COLUMNS = ("before", "after", "inserted")


def json_text(value: Any) -> bytes:
    """A JSON column's value as the database stores it: orjson, sorted keys at every level, compact."""
    return orjson.dumps(value, option=JSON_OPTIONS)


def keyed_body(row: Mapping[str, Any], before: bytes, after: bytes, inserted: bytes) -> bytes:
    """orjson.dumps(body, OPT_SORT_KEYS) of the row, built from its JSON columns' stored text: the check
    hashes what it reads without parsing it (tests hold the two ways equal)."""
    d = orjson.dumps
    return b"".join((b'{"action":', d(row["action"]), b',"actor":', d(row["actor"]), b',"after":', after,
                     b',"at":', d(_at(row["at"])), b',"before":', before, b',"entity":', d(row["entity"]),
                     b',"entity_id":', d(row["entity_id"]), b',"inserted":', inserted, b',"key_id":',
                     d(row["key_id"]), b',"source":', d(row["source"]), b"}"))


def keyed_hash(key: bytes, prev_hash: str, row: Mapping[str, Any], texts: tuple[bytes, ...] | None = None) -> str:
    """HMAC-SHA256 of the previous hash and the row's canonical JSON; ``texts``: its JSON columns as stored."""
    if texts is None:
        texts = tuple(json_text(row[name]) for name in JSON_COLUMNS)
    return hmac.digest(key, prev_hash.encode() + b"\n" + keyed_body(row, *texts), "sha256").hex()  # one-shot, in C


class Walk:
    """Checks stored rows one after the other, in id order, from the genesis."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self.prev_hash = GENESIS
        self.rows = 0
        self.legacy_rows = 0
        self.keyed_seen = False

    def check(self, row: Mapping[str, Any]) -> str | None:
        """None if the row fits the chain so far; else why not (a msgid, see ``PROBLEMS``)."""
        if row["prev_hash"] != self.prev_hash:
            return LINK
        key_id = row["key_id"]
        if key_id == LEGACY:
            if self.keyed_seen:
                return LEGACY_AFTER_KEYED
            if legacy_hash(self.prev_hash, parsed(row)) != row["hash"]:
                return EDITED
            self.legacy_rows += 1
        else:
            key = self.keyring.get(key_id)
            if key is None:
                return UNKNOWN_KEY
            if not self._keyed_fits(key, row):
                return EDITED
            self.keyed_seen = True
        self.prev_hash, self.rows = row["hash"], self.rows + 1
        return None

    def _keyed_fits(self, key: bytes, row: Mapping[str, Any]) -> bool:
        texts = row.get("texts")
        if texts is not None and hmac.compare_digest(keyed_hash(key, self.prev_hash, row, texts), row["hash"]):
            return True  # as stored: the common case, no JSON parsed
        # No text, or a database that stores JSON in another form than it was given (reordered, spaced): parse.
        return hmac.compare_digest(keyed_hash(key, self.prev_hash, parsed(row)), row["hash"])


def parsed(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The row with its JSON columns as values (a row read as stored text carries them in ``texts``)."""
    texts = row.get("texts")
    if texts is None:
        return row
    return {**row, **{name: orjson.loads(text) for name, text in zip(JSON_COLUMNS, texts, strict=True)}}
