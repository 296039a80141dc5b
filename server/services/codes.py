"""Issuing codes: random bodies, recorded for good so that none is ever issued twice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contract import codes
from server.models import IssuedCode


def issue(session: Session, kind: codes.Kind, count: int = 1) -> list[str]:
    """Issue ``count`` new codes of ``kind`` inside the caller's transaction."""
    issued: list[str] = []
    while len(issued) < count:
        want = count - len(issued)
        candidates = {str(codes.new_code(kind)) for _ in range(want)}
        taken = set(session.scalars(select(IssuedCode.code).where(IssuedCode.code.in_(candidates))))
        fresh = sorted(candidates - taken)
        try:
            with session.begin_nested():  # a concurrent issuer may have drawn the same body
                session.add_all(IssuedCode(code=code, kind=kind.value) for code in fresh)
        except IntegrityError:
            continue
        issued.extend(fresh)
    return issued


def register(session: Session, code: str) -> str:
    """Record a code made elsewhere (imported badges): valid, and never issued before."""
    parsed = codes.parse(code)
    text = str(parsed)
    if session.get(IssuedCode, text) is None:
        session.add(IssuedCode(code=text, kind=parsed.kind.value))
    return text
