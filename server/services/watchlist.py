"""The watchlist (重点关注名单): people (a name and aliases) and plates the gate must notice.

Entries are stored encrypted like visitors' personal fields; each normal form (the name, every
alias, the plate; ``contract.normalize``) gets a blind index, so a sign-in is matched by one
indexed lookup, however the guard typed the name (full-width, case, spaces, traditional
characters of the table). Kiosks receive only ``contract.normalize.watch_hash`` values under a
salt (``kiosk_hashes``), never the names.

Only the admin reads or changes the list; the audit log records that an entry was added or
removed, and its kind, never the name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract import normalize
from server import audit
from server.audit import Actor
from server.errors import IllegalTransition, Invalid, NotFound, Term
from server.i18n import N_
from server.models import WatchlistEntry, WatchlistKey, utcnow
from server.personal import policy
from server.services.visitors import clean_plate, text

KINDS = ("person", "plate")
MAX_ALIASES = 20


@dataclass(frozen=True)
class EntryView:
    id: int
    kind: str
    label: str
    aliases: list[str]
    note: str
    created_by: str
    created_at: object


def forms(kind: str, label: str, aliases: list[str]) -> list[tuple[str, str]]:
    """(key kind, normal form) of an entry: what a sign-in is matched against."""
    if kind == "plate":
        return [("plate", label)]
    names = {normalize.person_name(value) for value in [label, *aliases]}
    return [("name", form) for form in sorted(names) if form]


def add(session: Session, actor: Actor, kind: str, label: str, aliases: list[str] | None = None,
        note: str = "") -> WatchlistEntry:
    if kind not in KINDS:
        raise Invalid(N_("a watchlist entry is a person or a plate"), code="bad_kind")
    aliases = [a.strip() for a in (aliases or []) if a and a.strip()]
    if len(aliases) > MAX_ALIASES:
        raise Invalid(N_("at most %(count)s aliases"), code="too_many_aliases", count=MAX_ALIASES)
    if kind == "plate":
        label = clean_plate(label) or ""
        if not label:
            raise Invalid(N_("%(what)s is required"), code="bad_plate", what=Term(N_("plate")))
        aliases = []
    else:
        label = text(label, Term(N_("name")), required=True)
        aliases = [text(a, Term(N_("alias"))) for a in aliases]
    found = forms(kind, label, aliases)
    if not found:
        raise Invalid(N_("%(what)s is required"), code="bad_schema", what=Term(N_("name")))
    vault = policy(session).vault
    entry = WatchlistEntry(kind=kind, label_enc=vault.seal(label) or "", aliases_enc=vault.seal(json.dumps(
        aliases, ensure_ascii=False)) if aliases else None, note_enc=vault.seal(note.strip()[:1000]) or None,
        created_by=actor.name[:100], created_at=utcnow())
    session.add(entry)
    session.flush()
    session.add_all(WatchlistKey(entry_id=entry.id, kind=key_kind, value_index=vault.index(key_kind, form) or "")
                    for key_kind, form in found)
    audit.change(session, actor, "watchlist.add", entry, extra={"aliases": len(aliases)})
    return entry


def remove(session: Session, actor: Actor, entry_id: int) -> WatchlistEntry:
    entry = session.get(WatchlistEntry, entry_id)
    if entry is None:
        raise NotFound(N_("there is no watchlist entry %(id)s"), id=entry_id)
    if entry.removed_at is not None:
        raise IllegalTransition(N_("watchlist entry %(id)s is removed already"), id=entry_id)
    before = audit.state(entry)
    entry.removed_at, entry.removed_by = utcnow(), actor.name[:100]
    audit.change(session, actor, "watchlist.remove", entry, before)
    return entry


def entries(session: Session) -> list[EntryView]:
    rows = session.scalars(select(WatchlistEntry).where(WatchlistEntry.removed_at.is_(None))
                           .order_by(WatchlistEntry.id))
    return [view(session, row) for row in rows]


def view(session: Session, row: WatchlistEntry) -> EntryView:
    vault = policy(session).vault
    aliases = json.loads(vault.open(row.aliases_enc) or "[]")
    return EntryView(row.id, row.kind, vault.open(row.label_enc) or "", aliases, vault.open(row.note_enc) or "",
                     row.created_by, row.created_at)


def matches(session: Session, name: str | None, plates: list[str | None]) -> list[int]:
    """Ids of the active entries that a visitor's name or any of the plates matches."""
    vault = policy(session).vault
    wanted = [vault.index("name", normalize.person_name(name))] if name else []
    wanted += [vault.index("plate", plate) for plate in plates if plate]
    wanted = [w for w in wanted if w]
    if not wanted:
        return []
    query = (select(WatchlistKey.entry_id).join(WatchlistEntry, WatchlistEntry.id == WatchlistKey.entry_id)
             .where(WatchlistKey.value_index.in_(wanted), WatchlistEntry.removed_at.is_(None)).distinct())
    return sorted(session.scalars(query))


def kiosk_hashes(session: Session) -> tuple[str, list[str]]:
    """(salt, sorted hashes) of every active entry's normal forms: the watchlist as kiosks get it."""
    salt = policy(session).vault.watch_salt
    hashes: set[str] = set()
    for entry in entries(session):
        for kind, form in forms(entry.kind, entry.label, entry.aliases):
            hashes.add(_hash(salt, kind, form))
    return salt, sorted(hashes)


@lru_cache(maxsize=20_000)
def _hash(salt: str, kind: str, form: str) -> str:
    # Stretched on purpose (slow): remembered per process, so a config rebuild costs nothing new.
    return normalize.watch_hash(salt, kind, form)
