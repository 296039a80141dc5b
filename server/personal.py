"""Visitors' personal fields at rest: encrypted with Fernet, found again through blind indexes.

The keys come from ``personal_data_keys`` (the environment, comma-separated, newest first) or, when
that is empty, from ``<instance>/personal_data.keys``, made once (mode 600) with one fresh key.
``MultiFernet`` encrypts with the first key and decrypts with any of them, which is how a key is
rotated (docs/gate.md): put a new key first, run ``assetgate gate rotate-key`` (it re-encrypts every
stored field with the new key and recomputes the indexes), then drop the old key.

A blind index is an HMAC of a value's normal form (``contract.normalize``) under a key derived from
the newest key, so a name or plate can be looked up and matched against the watchlist without
being stored in the clear. The kiosks' watchlist salt is derived the same way: not secret, but
stable until the key changes.

The gate's other settings travel with the vault as ``GatePolicy``, attached to each session
factory (``install``), so the services (web, API, consumer, CLI) read one policy from their session.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy.orm import Session, sessionmaker

from server.config import Settings, ensure_instance

KEY_FILE = "personal_data.keys"
OPENED = 20_000  # opened fields remembered per process
_POLICY = "assetgate.gate_policy"


class KeyProblem(ValueError):
    """Keys that cannot be used (wrong format, or none of them opens the stored data)."""


class Vault:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise KeyProblem("no personal data key")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError):
            raise KeyProblem("personal_data_keys must be Fernet keys (32 url-safe base64 bytes), comma-separated, "
                            "made with: python -c 'from cryptography.fernet import Fernet; "
                            "print(Fernet.generate_key().decode())'") from None
        # Tokens never change (a new value is a new token), so what was opened once is remembered:
        # the desk's on-site list, polled every second, and the kiosks' configs reopen the same ones.
        self._opened = lru_cache(maxsize=OPENED)(self._decrypt)
        primary = keys[0].encode()
        self._index_key = hmac.new(primary, b"assetgate blind index v1", hashlib.sha256).digest()
        self.watch_salt = hmac.new(primary, b"assetgate watchlist salt v1", hashlib.sha256).hexdigest()[:32]

    def seal(self, text: str | None) -> str | None:
        """The encrypted form of ``text`` (None and "" stay as they are: nothing to hide)."""
        if not text:
            return text
        return self._fernet.encrypt(text.encode()).decode()

    def open(self, token: str | None) -> str | None:
        if not token:
            return token
        return self._opened(token)

    def _decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise KeyProblem("a stored personal field does not open with any configured key "
                            "(was a key dropped before `assetgate gate rotate-key` ran?)") from None

    def reseal(self, token: str | None) -> str | None:
        """The same field encrypted with the newest key (key rotation)."""
        if not token:
            return token
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise KeyProblem("a stored personal field does not open with any configured key") from None

    def index(self, kind: str, normal: str | None) -> str | None:
        """The blind index of a normal form: equal values give equal indexes, nothing else is told."""
        if not normal:
            return None
        return hmac.new(self._index_key, f"{kind}:{normal}".encode(), hashlib.sha256).hexdigest()[:40]


def keys_of(settings: Settings) -> list[str]:
    if settings.personal_data_keys.strip():
        return [k.strip() for k in settings.personal_data_keys.split(",") if k.strip()]
    path = ensure_instance(settings) / KEY_FILE
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process (the consumer, the web) made it just now
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
    return [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]


@lru_cache(maxsize=8)
def _vault(keys: tuple[str, ...]) -> Vault:
    return Vault(list(keys))


@dataclass(frozen=True)
class GatePolicy:
    """What the gate's services need from the settings, in one place."""

    vault: Vault
    zone: ZoneInfo
    keep_id_last4: bool
    approval_purposes: frozenset[str]
    personal_days: int
    record_days: int
    auto_signout_hour: int
    admin_email: str
    webhook: bool
    email: bool
    # The storeroom's reorder notifications (services/notify): their own webhook, and whom to mail.
    reorder_webhook: bool = False
    reorder_emails: tuple[str, ...] = ()

    def today(self) -> date:
        """Today in the office's time zone (a loan's day, an export's days)."""
        return datetime.now(self.zone).date()


def policy_for(settings: Settings) -> GatePolicy:
    return GatePolicy(
        vault=_vault(tuple(keys_of(settings))), zone=ZoneInfo(settings.timezone),
        keep_id_last4=settings.visitor_id_last4, approval_purposes=settings.approval_purposes,
        personal_days=settings.visitor_personal_days, record_days=settings.visit_record_days,
        auto_signout_hour=settings.auto_signout_hour, admin_email=settings.gate_admin_email.strip(),
        webhook=bool(settings.gate_webhook_url.strip()), email=bool(settings.smtp_host.strip()),
        reorder_webhook=bool(settings.reorder_webhook_url), reorder_emails=settings.reorder_emails)


def install(factory: sessionmaker[Session], settings: Settings) -> None:
    """Give every session of ``factory`` the gate policy of ``settings``."""
    # Merged with what the factory carries already (the audit keys: ``server.audit.install``).
    factory.configure(info={**(factory.kw.get("info") or {}), _POLICY: policy_for(settings)})


def policy_if_any(session: Session) -> GatePolicy | None:
    """The policy, or None for a session made without it (a bare engine's, in service tests)."""
    return session.info.get(_POLICY)  # type: ignore[no-any-return]


def policy(session: Session) -> GatePolicy:
    found = session.info.get(_POLICY)
    if found is None:
        raise RuntimeError("this session has no gate policy: make its factory with server.personal.install")
    return found  # type: ignore[no-any-return]
