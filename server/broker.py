"""Mosquitto credentials and ACLs, rewritten from the kiosk table on every enrolment.

The files are derived data: the database is the truth (the kiosk's password hash, its
revocation), so ``write_files`` can always rebuild them. Passwords use Mosquitto 2's own
PBKDF2-SHA512 format (``$7$``), so no mosquitto_passwd binary is needed on the server.

Client ids are tied to logins by the broker's listeners (firmware-config/mosquitto): kiosks
log in on their own listener, where ``use_username_as_clientid`` makes every kiosk's client id
its user name; the server logs in on a listener of its own, whose password file
(``broker_server_password_file``) holds only the server's user. So a kiosk's login can take
neither another kiosk's session nor the consumer's, while the consumers keep their own
client ids and can share a subscription. For that to hold, no kiosk may be named like the
server's user or a consumer's client id: ``reserved`` says which names enrolment refuses.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import secrets
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract.topics import SHARE_GROUP, Topics
from server import pidfile
from server.config import Settings
from server.models import Kiosk

log = logging.getLogger("assetgate.broker")
RESERVED_PREFIX = "assetgate-"  # the server side's own client ids and users (assetgate-consumer, -server)
ITERATIONS = 101  # mosquitto_passwd's default for $7$


def password_hash(password: str, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def new_password() -> str:
    return secrets.token_urlsafe(24)


def server_acl(topics: Topics, username: str) -> list[str]:
    events = topics.all_events()
    return [
        f"user {username}",
        f"topic read {events}",
        f"topic read $share/{SHARE_GROUP}/{events}",
        f"topic read {topics.all_status}",
        f"topic write {topics.prefix}/kiosks/+/acks",
        f"topic write {topics.prefix}/kiosks/+/config",
        f"topic readwrite {topics.server_status}",
    ]


def reserved(settings: Settings) -> frozenset[str]:
    """Names no kiosk may have: the server's broker user and the consumer's client id, besides
    everything starting with ``assetgate-``, where further consumers' client ids belong."""
    return frozenset(name for name in (settings.mqtt_username, settings.mqtt_client_id) if name)


def is_reserved(name: str, settings: Settings) -> bool:
    return name in reserved(settings) or name.startswith(RESERVED_PREFIX)


@dataclass
class Files:
    """The text of the broker's files, and the kiosks left out of them."""

    kiosk_passwords: str
    server_passwords: str
    acl: str
    skipped: list[str] = field(default_factory=list)


def render(session: Session, settings: Settings) -> Files:
    """The password files (kiosks' listener, server's listener) and the ACL file, for the server
    user and every active kiosk. Without a server password file (one listener) the server user
    goes into the kiosks' file."""
    topics = Topics(settings.topic_prefix)
    server: list[str] = []
    acl: list[str] = ["# Written by `assetgate kiosk enroll|revoke`; edits here are overwritten.", ""]
    if settings.mqtt_username and settings.mqtt_password:
        server.append(f"{settings.mqtt_username}:{password_hash(settings.mqtt_password)}")
        acl += [*server_acl(topics, settings.mqtt_username), ""]
    kiosks: list[str] = [] if settings.broker_server_password_file else list(server)
    skipped: list[str] = []
    query = select(Kiosk).where(Kiosk.revoked_at.is_(None), Kiosk.broker_password_hash.is_not(None))
    for kiosk in session.scalars(query.order_by(Kiosk.name)):
        if is_reserved(kiosk.name, settings):  # enrolled before names were checked: its login could
            skipped.append(kiosk.name)         # take the consumer's session, so it gets none
            continue
        kiosks.append(f"{kiosk.name}:{kiosk.broker_password_hash}")
        acl += [*topics.acl_lines(kiosk.name), ""]
    return Files("\n".join(kiosks) + "\n", "\n".join(server) + "\n", "\n".join(acl), skipped)


def _write(path: Path, text: str, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)  # the broker never reads a half-written file


@dataclass(frozen=True)
class Written:
    """What ``write_files`` did: the kiosks it left out, and whether the broker reloads them."""

    skipped: list[str]
    reload: pidfile.Reload | None  # None: no pid file configured, the broker must be told by hand


def write_files(session: Session, settings: Settings) -> Written | None:
    """Rewrite the broker's files when configured (None when not), then ask the broker to reload
    them, by a signal only if its pid file names a Mosquitto process (``server.pidfile``)."""
    if not (settings.broker_password_file and settings.broker_acl_file):
        return None
    files = render(session, settings)
    _write(settings.broker_password_file, files.kiosk_passwords, 0o600)
    if settings.broker_server_password_file:
        _write(settings.broker_server_password_file, files.server_passwords, 0o600)
    _write(settings.broker_acl_file, files.acl, 0o644)
    for name in files.skipped:
        log.error("kiosk %s has a reserved name and was left out of the broker's files; revoke it and "
                  "enrol it under another name", name)
    reload = pidfile.reload(settings.broker_pid_file) if settings.broker_pid_file else None
    return Written(files.skipped, reload)


def forget_password(settings: Settings, name: str) -> Path | None:
    """Delete the revoked kiosk's plain-text password from its bundle in the instance folder."""
    path = bundle_folder(settings, name) / "broker-password"
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


def bundle_folder(settings: Settings, name: str) -> Path:
    return settings.instance_path / "kiosks" / name


def sync(session: Session, settings: Settings) -> str:
    """``write_files`` for the web and the API, after a committed enrolment or revocation:
    ``written``, ``not-configured``, or ``failed`` (logged; `assetgate kiosk broker-files` redoes it)."""
    try:
        return "written" if write_files(session, settings) else "not-configured"
    except OSError as exc:
        log.error("broker files not written: %s", exc)
        return "failed"


def bundle_files(settings: Settings, kiosk: Kiosk, password: str) -> dict[str, tuple[str, int]]:
    """What a Pi needs to join, file name -> (text, mode): kiosk.toml, the broker password in a file
    of its own (mode 600) and, when the broker uses TLS, the CA that signed its certificate."""
    host = settings.broker_public_host or settings.mqtt_host
    port = settings.broker_public_port or settings.mqtt_port
    location = f'location = "{kiosk.location.code}"\n' if kiosk.location else ""
    config = (
        f'# AssetGate kiosk {kiosk.name}: copy this folder to /etc/assetgate-kiosk/ on the Pi.\n'
        f'kiosk = "{kiosk.name}"\nmode = "{kiosk.mode}"\n{location}prefix = "{settings.topic_prefix}"\n'
        f'outbox = "/var/lib/assetgate-kiosk/outbox.db"\n\n'
        f'[broker]\nhost = "{host}"\nport = {port}\nusername = "{kiosk.name}"\npassword_file = "broker-password"\n'
    )
    files = {"broker-password": (password + "\n", 0o600)}
    if settings.mqtt_tls_ca:
        config += '\n[broker.tls]\nca_file = "ca.crt"\n'
        if settings.mqtt_tls_ca.exists():
            files["ca.crt"] = (settings.mqtt_tls_ca.read_text(), 0o644)
    files["kiosk.toml"] = (config, 0o644)
    return files


def kiosk_bundle(settings: Settings, kiosk: Kiosk, password: str, folder: Path) -> Path:
    """The bundle written to a folder (the CLI, on the server); returns the path of kiosk.toml."""
    # It holds a password: the folder (and the instance's kiosks/ above it, when new) is the owner's only.
    folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.mkdir(mode=0o700, exist_ok=True)
    for name, (text, mode) in bundle_files(settings, kiosk, password).items():
        _write(folder / name, text, mode)
    return folder / "kiosk.toml"


def bundle_zip(settings: Settings, kiosk: Kiosk, password: str) -> bytes:
    """The bundle as a zip in memory (the web and the API): the password is never written on the server."""
    out = io.BytesIO()
    made = time.localtime()[:6]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (text, mode) in bundle_files(settings, kiosk, password).items():
            member = zipfile.ZipInfo(f"{kiosk.name}/{name}", date_time=made)
            member.external_attr = (0o100000 | mode) << 16  # a regular file with its mode, kept by unzip
            member.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(member, text)
    return out.getvalue()
