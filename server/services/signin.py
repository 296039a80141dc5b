"""Sign-in throttling: after a few failures, an account or an address waits, longer each time.

Failures are rows in the database, so every web worker sees the same count. An account is held
after ACCOUNT_FREE failures within WINDOW, an address (one machine guessing many usernames) after
ADDRESS_FREE; the wait starts at one minute and doubles with each further failure, up to an hour.
A successful sign-in clears the account's failures.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from server.models import SignInFailure, utcnow

log = logging.getLogger(__name__)
WINDOW = timedelta(minutes=15)
ACCOUNT_FREE = 5
ADDRESS_FREE = 20
FIRST_WAIT = timedelta(minutes=1)
LONGEST_WAIT = timedelta(hours=1)


def _key(username: str) -> str:
    return username.strip().lower()[:80]


def _wait(failures: int, free: int) -> timedelta:
    if failures < free:
        return timedelta(0)
    return min(FIRST_WAIT * 2 ** (failures - free), LONGEST_WAIT)


def held_until(session: Session, username: str, address: str, now: datetime | None = None) -> datetime | None:
    """When the account or address may try again, or None if it may try now."""
    now = now or utcnow()
    since = now - WINDOW
    holds = []
    for column, value, free in ((SignInFailure.username, _key(username), ACCOUNT_FREE),
                                (SignInFailure.address, address[:45], ADDRESS_FREE)):
        count, last = session.execute(select(func.count(), func.max(SignInFailure.at))
                                      .where(column == value, SignInFailure.at >= since)).one()
        wait = _wait(int(count), free)
        if last is not None and wait:
            holds.append(last + wait)
    until = max(holds, default=None)
    return until if until is not None and until > now else None


def record_failure(session: Session, username: str, address: str) -> None:
    session.add(SignInFailure(username=_key(username), address=address[:45], at=utcnow()))
    log.warning("sign-in failed for %r from %s", _key(username), address)


def refused_while_held(username: str, address: str, until: datetime) -> None:
    """Log a sign-in refused because the account or the address waits (the person is told on the page)."""
    log.warning("sign-in refused for %r from %s: held until %s", _key(username), address,
                until.isoformat(timespec="seconds"))


def record_success(session: Session, username: str) -> None:
    session.execute(delete(SignInFailure).where(SignInFailure.username == _key(username)))


def forget_old(session: Session, now: datetime | None = None) -> int:
    """Drop failures older than the window (they no longer count); returns how many."""
    result = session.execute(delete(SignInFailure).where(SignInFailure.at < (now or utcnow()) - WINDOW))
    return int(getattr(result, "rowcount", 0) or 0)
