"""Checkpoints of the chain outside the database, and the signed summary an auditor keeps.

``assetgate audit checkpoint`` (daily, assetgate-audit-checkpoint.timer) checks the rows added since
the last checkpoint, then appends one line to the checkpoint file (``audit_checkpoint_file``, or
``<instance>/audit.checkpoints``): the time, the row count, the newest row's id and hash and its key
id, signed with the instance's Ed25519 key (``<instance>/audit_signing.key``, 0600; the public half in
``audit_signing.pub``). It also writes a summary (``<instance>/audit-summaries/``) with the same
head and what was added since the last checkpoint, signed the same way, and prints it.

``verify`` compares the chain with every checkpoint: fewer rows than one saw is a truncated tail;
another hash at its row count is rewritten history. ``check-summary`` checks a kept summary's
signature against a public key the auditor kept, then the database against the summary.
"""

from __future__ import annotations

import base64
import hashlib
import os
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.config import Settings, ensure_instance

SIGNING_KEY = "audit_signing.key"
PUBLIC_KEY = "audit_signing.pub"
CHECKPOINTS = "audit.checkpoints"
SUMMARIES = "audit-summaries"
FORMAT = "assetgate-audit-summary/1"


class CheckpointProblem(ValueError):
    """A signing key, checkpoint file or summary that cannot be used."""


@dataclass(frozen=True)
class Checkpoint:
    at: str  # UTC, ISO
    rows: int  # audit rows up to and including head_id
    head_id: int | None
    head_hash: str
    key_id: str


@dataclass
class Loaded:
    """The checkpoint file as read: the lines whose signature holds, and the numbers of those that do not."""

    good: list[Checkpoint] = field(default_factory=list)
    forged: list[int] = field(default_factory=list)
    path: Path | None = None

    @property
    def newest(self) -> Checkpoint | None:
        return self.good[-1] if self.good else None


def canonical(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """The instance's signing key, made (with its public half) the first time."""
    folder = ensure_instance(settings)
    path = folder / SIGNING_KEY
    if not path.exists():
        made = Ed25519PrivateKey.generate()
        with suppress(FileExistsError):  # made by another process just now
            _write_private(path, made.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except ValueError as exc:
        raise CheckpointProblem(f"{path}: not a PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointProblem(f"{path}: not an Ed25519 key")
    public = folder / PUBLIC_KEY
    pem = public_pem(key.public_key())
    if not public.exists() or public.read_text() != pem:
        public.write_text(pem)
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public(pem: bytes, where: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise CheckpointProblem(f"{where}: not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointProblem(f"{where}: not an Ed25519 public key")
    return key


def instance_public(settings: Settings) -> Ed25519PublicKey | None:
    """The instance's public key, if a signing key was ever made (the web only reads it)."""
    path = settings.instance_path / PUBLIC_KEY
    return load_public(path.read_bytes(), str(path)) if path.exists() else None


def fingerprint(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


def sign(key: Ed25519PrivateKey, body: dict[str, Any]) -> str:
    return base64.b64encode(key.sign(canonical(body))).decode()


def signature_holds(key: Ed25519PublicKey, body: dict[str, Any], signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), canonical(body))
    except (InvalidSignature, ValueError):
        return False
    return True


def checkpoint_file(settings: Settings) -> Path:
    return settings.audit_checkpoint_file or settings.instance_path / CHECKPOINTS


def load(settings: Settings) -> Loaded:
    """Every line of the checkpoint file, its signature checked with the instance's public key."""
    path = checkpoint_file(settings)
    loaded = Loaded(path=path)
    if not path.exists():
        return loaded
    public = instance_public(settings)
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = orjson.loads(line)
            signature = raw.pop("signature")
            point = Checkpoint(**raw)
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            loaded.forged.append(number)
            continue
        if public is None or not signature_holds(public, asdict(point), signature):
            loaded.forged.append(number)
        else:
            loaded.good.append(point)
    loaded.good.sort(key=lambda p: p.rows)
    return loaded


def append(settings: Settings, key: Ed25519PrivateKey, point: Checkpoint) -> Path:
    path = checkpoint_file(settings)
    ensure_instance(settings)
    line = orjson.dumps({**asdict(point), "signature": sign(key, asdict(point))}) + b"\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def summary(settings: Settings, key: Ed25519PrivateKey, point: Checkpoint, previous: Checkpoint | None,
            actions: dict[str, int]) -> dict[str, Any]:
    """The signed summary of a checkpoint: what an auditor keeps, away from the server."""
    body = {
        "format": FORMAT, "organisation": settings.org_name, "made_at": point.at,
        "rows": point.rows, "head_id": point.head_id, "head_hash": point.head_hash, "key_id": point.key_id,
        "previous": asdict(previous) if previous else None,
        "added": point.rows - (previous.rows if previous else 0), "actions": actions,
        "signing_key": fingerprint(key.public_key()),
    }
    return {"summary": body, "signature": sign(key, body)}


def write_summary(settings: Settings, signed: dict[str, Any]) -> Path:
    folder = ensure_instance(settings) / SUMMARIES
    folder.mkdir(mode=0o700, exist_ok=True)
    made = datetime.fromisoformat(signed["summary"]["made_at"]).astimezone(UTC)
    path = folder / f"audit-summary-{made:%Y%m%dT%H%M%SZ}.json"
    # Not secret (the auditor keeps copies), but like everything in the instance folder the owner's only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(orjson.dumps(signed, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")
    return path


def read_summary(path: Path, key: Ed25519PublicKey) -> dict[str, Any]:
    """A kept summary whose signature holds under ``key``; else CheckpointProblem saying why."""
    try:
        signed = orjson.loads(path.read_bytes())
        body, signature = signed["summary"], signed["signature"]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise CheckpointProblem(f"{path}: not an AssetGate audit summary ({exc})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise CheckpointProblem(f"{path}: not an AssetGate audit summary (format)")
    if not isinstance(signature, str) or not signature_holds(key, body, signature):
        raise CheckpointProblem(f"{path}: the signature does not match this public key "
                                f"({fingerprint(key)}): the summary was edited or signed by another key")
    return body
