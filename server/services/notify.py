"""Notifications from the gate (a host's visitor has arrived, a watchlist hit), the archives (a
loan overdue, to its borrower) and the storeroom (an item crossed its reorder level): an outbox.

``enqueue`` adds rows in the caller's transaction, so a sign-in never waits for a mail server or a
webhook and never fails because of one. ``deliver_due`` (run by the scheduler, ``assetgate gate
run``) sends what is due, each in a short transaction of its own, outside any lock: a failure is
written down and tried again later (1, 2, 4 ... minutes, at most an hour apart) until
``notify_max_attempts``; then the row is marked failed and shown to the admin.

Email goes through SMTP (``smtp_*`` settings). The webhook is a JSON POST signed with HMAC-SHA256
(``gate_webhook_secret``): ``X-AssetGate-Signature: sha256=<hex of HMAC(secret, timestamp + "." + body)>``
with ``X-AssetGate-Timestamp``, so a receiver can check both the body and its age. Both channels
are off until configured. Bodies name the visitor, so they are stored encrypted and purged with the
visitor's other personal fields.

Reorder notifications (``enqueue_reorder``, queued once per crossing by services/supplies) go to a
webhook of their own (``reorder_webhook_url``, signed with ``reorder_webhook_secret``; the row's
recipient is ``reorder``) and to the ``reorder_email`` addresses, one row each, through the same
delivery and retries.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from server.config import Settings
from server.models import Notification, utcnow
from server.personal import GatePolicy, policy, policy_if_any

LEASE = timedelta(minutes=5)  # a row being sent is not picked up again by another scheduler meanwhile
TIMEOUT_S = 10.0
SUBJECTS = {
    "visitor.arrived": "访客到访 / Visitor arrived: {visitor} ({pass})",
    "watchlist.hit": "重点关注名单提示 / Watchlist alert at the gate: {pass}",
    "archive.overdue": "档案借阅逾期 / Archive loan overdue: {title} ({volume}), due {due}",
    "supply.reorder": "物品需补货 / Reorder: {name} ({item}), {stock} {unit} left, reorder level {level}",
}
GATE_WEBHOOK, REORDER_WEBHOOK = "webhook", "reorder"  # a webhook row's recipient: which URL it goes to


def enqueue(session: Session, kind: str, body: dict[str, Any], *, email_to: str | None = None) -> int:
    """Queue ``body`` for the webhook (when configured) and ``email_to`` (when email is configured)."""
    gate = policy(session)
    return _queue(session, gate, kind, body, [email_to] if gate.email and email_to else [],
                  GATE_WEBHOOK if gate.webhook else None)


def enqueue_reorder(session: Session, body: dict[str, Any]) -> int:
    """Queue a reorder notification for the storeroom's webhook and addresses, those configured. A
    session made without the settings' policy (a bare engine's) has none: nothing is queued."""
    found = policy_if_any(session)
    if found is None:
        return 0
    return _queue(session, found, "supply.reorder", body, list(found.reorder_emails),
                  REORDER_WEBHOOK if found.reorder_webhook else None)


def _queue(session: Session, gate: GatePolicy, kind: str, body: dict[str, Any], emails: list[str],
           webhook: str | None) -> int:
    if not emails and webhook is None:
        return 0
    sealed = gate.vault.seal(json.dumps(body, ensure_ascii=False, default=str))
    now = utcnow()
    rows = [Notification(channel="email", kind=kind, recipient=address[:500], body_enc=sealed, created_at=now,
                         next_attempt_at=now, attempts=0, last_error="") for address in emails]
    if webhook is not None:
        rows.append(Notification(channel="webhook", kind=kind, recipient=webhook, body_enc=sealed,
                                 created_at=now, next_attempt_at=now, attempts=0, last_error=""))
    session.add_all(rows)
    return len(rows)


@dataclass
class Delivery:
    sent: int = 0
    failed: int = 0  # attempts that failed this round (tried again later, or given up)


Sender = Callable[[Notification, dict[str, Any]], None]


def deliver_due(sessions: sessionmaker[Session], settings: Settings, now: datetime | None = None,
                limit: int = 50) -> Delivery:
    """Send what is due; returns how many went out and how many attempts failed."""
    result = Delivery()
    for row_id in _claim(sessions, now or utcnow(), limit):
        with sessions() as session, session.begin():
            row = session.get(Notification, row_id)
            assert row is not None
            body = json.loads(policy(session).vault.open(row.body_enc) or "{}")
        try:
            SENDERS[row.channel](settings, row, body)
        except (OSError, smtplib.SMTPException, urllib.error.URLError, ValueError) as exc:
            _failed(sessions, row_id, f"{type(exc).__name__}: {exc}"[:500], settings.notify_max_attempts)
            result.failed += 1
        else:
            _sent(sessions, row_id)
            result.sent += 1
    return result


def _claim(sessions: sessionmaker[Session], now: datetime, limit: int) -> list[int]:
    with sessions() as session, session.begin():
        due = list(session.scalars(select(Notification.id).where(Notification.next_attempt_at <= now)
                                   .order_by(Notification.next_attempt_at).limit(limit).with_for_update()))
        if due:
            session.execute(update(Notification).where(Notification.id.in_(due))
                            .values(next_attempt_at=now + LEASE))
        return due


def _sent(sessions: sessionmaker[Session], row_id: int) -> None:
    with sessions() as session, session.begin():
        row = session.get(Notification, row_id)
        if row is not None:
            row.attempts += 1
            row.sent_at, row.next_attempt_at, row.last_error = utcnow(), None, ""


def _failed(sessions: sessionmaker[Session], row_id: int, error: str, max_attempts: int) -> None:
    with sessions() as session, session.begin():
        row = session.get(Notification, row_id)
        if row is None:
            return
        row.attempts += 1
        row.last_error = error
        if row.attempts >= max_attempts:
            row.failed_at, row.next_attempt_at = utcnow(), None
        else:
            row.next_attempt_at = utcnow() + timedelta(seconds=min(60 * 2 ** (row.attempts - 1), 3600))


def _send_email(settings: Settings, row: Notification, body: dict[str, Any]) -> None:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = row.recipient
    message["Subject"] = SUBJECTS.get(row.kind, row.kind).format_map(_Blank(body))
    message.set_content("\n".join(f"{key}: {value}" for key, value in body.items()))
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(message)


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """What ``X-AssetGate-Signature`` holds for a body sent at ``timestamp``."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _send_webhook(settings: Settings, row: Notification, body: dict[str, Any]) -> None:
    raw = json.dumps({"event": row.kind, "id": row.id, **body}, ensure_ascii=False, default=str).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json; charset=utf-8", "X-AssetGate-Event": row.kind,
               "X-AssetGate-Delivery": str(row.id), "X-AssetGate-Timestamp": timestamp}
    url, secret = ((settings.reorder_webhook_url, settings.reorder_webhook_secret) if row.recipient == REORDER_WEBHOOK
                   else (settings.gate_webhook_url, settings.gate_webhook_secret))
    if not url.strip():  # configured when queued, removed since: tried again, then given up
        raise ValueError(f"no webhook URL is configured for {row.recipient} notifications")
    if secret:
        headers["X-AssetGate-Signature"] = signature(secret, timestamp, raw)
    request = urllib.request.Request(url, data=raw, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 (the admin's own URL)
        if not 200 <= response.status < 300:
            raise ValueError(f"webhook answered {response.status}")


SENDERS: dict[str, Callable[[Settings, Notification, dict[str, Any]], None]] = {
    "email": _send_email, "webhook": _send_webhook}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def recent(session: Session, limit: int = 50) -> list[Notification]:
    return list(session.scalars(select(Notification).order_by(Notification.id.desc()).limit(limit)))


def failing(session: Session, limit: int = 50, kind: str | None = None) -> list[Notification]:
    """Rows whose last attempt failed (retrying or given up): what the desk and the admin are shown."""
    query = (select(Notification).where(Notification.last_error != "", Notification.sent_at.is_(None))
             .order_by(Notification.id.desc()).limit(limit))
    if kind is not None:
        query = query.where(Notification.kind == kind)
    return list(session.scalars(query))
