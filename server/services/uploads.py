"""Uploaded files kept between a preview and its confirmation (a plan to import), in the instance folder.

A file input cannot be filled in again by the server, so the confirm step names the upload by an
unguessable token instead of sending the file twice. Uploads older than KEEP are removed.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from pathlib import Path

from server.errors import NotFound
from server.i18n import N_

KEEP_S = 24 * 3600
_TOKEN = re.compile(r"^[0-9a-f]{32}$")
SUFFIXES = (".csv", ".xlsx")


def _folder(instance: Path) -> Path:
    path = Path(instance) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def save(instance: Path, data: bytes, filename: str) -> str:
    """Keep an upload; its token names it from now on."""
    folder = _folder(instance)
    now = time.time()
    for old in folder.iterdir():
        if now - old.stat().st_mtime > KEEP_S:
            old.unlink(missing_ok=True)
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") or data[:2] == b"PK" else ".csv"
    token = secrets.token_hex(16)
    (folder / f"{token}{suffix}").write_bytes(data)
    return token


def path(instance: Path, token: str) -> Path:
    """The kept file, or NotFound when the token is malformed, unknown or expired."""
    if _TOKEN.match(token or ""):
        for suffix in SUFFIXES:
            candidate = _folder(instance) / f"{token}{suffix}"
            if candidate.is_file():
                return candidate
    raise NotFound(N_("the uploaded file is no longer here (kept for a day); upload it again"), code="unknown_upload")


def remove(instance: Path, token: str) -> None:
    with contextlib.suppress(NotFound):
        path(instance, token).unlink(missing_ok=True)
