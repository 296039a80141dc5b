"""``Idempotency-Key`` on every POST of the REST API: a retry gets the first answer, not a second change.

Hooks on the API blueprint, so every POST route has this without doing anything. With the header:

1. Before the view, the key is claimed for the caller: a row (``idempotency_keys``) inserted and
   committed in a transaction of its own, so that a second request with the same key, even one
   arriving while the first runs, finds it. If the row is there already:
   - it holds an answer and the request is the same (method, path, query string, body): that
     answer again, with ``Idempotent-Replayed: true``; the view does not run;
   - the request differs: 422 ``idempotency_key_reused``;
   - it holds no answer yet (the first request is still running): 409 ``idempotency_in_flight``.
2. After the view, a 2xx JSON answer is stored in the row; anything else releases the key, so a
   refused request may be retried with the same key.

Keys are kept per caller (a token's name, a user's name) for ``idempotency_retention_hours``
(default 24), then deleted. A claim without an answer after ``STALE_CLAIM`` belongs to a request
that died with its process and is taken over. Public routes (no caller) ignore the header.
Answers that are not JSON (label PDFs) are not kept: a retry prints the labels again.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server import settings_of
from server.api.body import error
from server.db import transaction
from server.models import IdempotencyKey, utcnow

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
STALE_CLAIM = timedelta(minutes=5)  # no request runs this long; its process died
_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII, as in the IETF draft's examples


def register(bp: Blueprint) -> None:
    bp.before_request(claim)
    bp.after_request(finish)
    bp.teardown_request(release_unfinished)


def _sessions() -> sessionmaker[Session]:
    factory: sessionmaker[Session] = current_app.extensions["assetgate.sessions"]
    return factory


def _fingerprint() -> str:
    return hashlib.sha256(request.query_string + b"\n" + request.get_data()).hexdigest()


def claim() -> Any:
    """before_request: claim the key, or answer for the request that claimed it first."""
    actor = getattr(g, "actor", None)
    if request.method != "POST" or HEADER not in request.headers or actor is None:
        return None
    key = request.headers[HEADER]
    if not _KEY.fullmatch(key):
        return error("bad_idempotency_key", _("Idempotency-Key must be 1 to 255 visible ASCII characters"), 400)
    what, fingerprint = f"POST {request.path}"[:300], _fingerprint()
    now = utcnow()
    for _attempt in range(3):  # a row that expired or was released meanwhile: claim again
        claimed = _insert(actor.name, key, what, fingerprint, now)
        if claimed is not None:
            g.idempotency_claim = claimed
            return None
        row = _existing(actor.name, key)
        if row is None:
            continue
        if _outlived(row, now):
            _delete(row.id)
            continue
        return _answer(row, what, fingerprint)
    return _in_flight()


def _insert(actor: str, key: str, what: str, fingerprint: str, now: datetime) -> int | None:
    retention = timedelta(hours=settings_of(current_app).idempotency_retention_hours)
    try:
        with transaction(_sessions()) as session:
            session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - retention))
            row = IdempotencyKey(actor=actor, key=key, request=what, request_hash=fingerprint, created_at=now)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:  # (actor, key) exists: someone has it
        return None


def _existing(actor: str, key: str) -> IdempotencyKey | None:
    with _sessions()() as session:
        return session.scalars(select(IdempotencyKey).where(IdempotencyKey.actor == actor,
                                                            IdempotencyKey.key == key)).first()


def _outlived(row: IdempotencyKey, now: datetime) -> bool:
    retention = timedelta(hours=settings_of(current_app).idempotency_retention_hours)
    return row.created_at < now - retention or (row.status is None and row.created_at < now - STALE_CLAIM)


def _answer(row: IdempotencyKey, what: str, fingerprint: str) -> Any:
    if row.request != what or row.request_hash != fingerprint:
        return error("idempotency_key_reused",
                     _("this Idempotency-Key was used for another request; use a new key for a new request"), 422)
    if row.status is None or row.response is None:
        return _in_flight()
    return Response(row.response, status=row.status, mimetype="application/json", headers={REPLAYED: "true"})


def _in_flight() -> Any:
    body, status = error("idempotency_in_flight",
                         _("a request with this Idempotency-Key is still running; retry in a moment"), 409)
    body.headers["Retry-After"] = "1"
    return body, status


def finish(response: Response) -> Response:
    """after_request: keep a 2xx JSON answer for replays; release the key otherwise."""
    claimed = g.pop("idempotency_claim", None)
    if claimed is None:
        return response
    _end_view_transaction()
    if 200 <= response.status_code < 300 and response.is_json and not response.is_streamed:
        with transaction(_sessions()) as session:
            session.execute(update(IdempotencyKey).where(IdempotencyKey.id == claimed)
                            .values(status=response.status_code, response=response.get_data(as_text=True)))
    else:
        _delete(claimed)
    return response


def release_unfinished(_exc: BaseException | None) -> None:
    """teardown: a request that ended without ``finish`` (an error that escaped) releases its key."""
    claimed = g.pop("idempotency_claim", None)
    if claimed is not None:
        _end_view_transaction()
        _delete(claimed)


def _end_view_transaction() -> None:
    """Roll back what the view left uncommitted (the teardown would, a moment later) before writing from
    another connection: on SQLite an open transaction holds the one write lock, and we would wait on it."""
    db = g.get("db")
    if db is not None:
        db.rollback()


def _delete(row_id: int) -> None:
    with transaction(_sessions()) as session:
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
