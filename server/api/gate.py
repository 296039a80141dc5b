"""REST: the watchlist (admin), the gate's alerts and notifications, hosts' email addresses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from flask import g, jsonify, request
from pydantic import Field

from server import gate_serialize as out
from server.api import Body, accepts, bp
from server.api.visitors import DESK
from server.auth import roles
from server.errors import Invalid
from server.i18n import N_
from server.services import directory, gate_alerts, notify, watchlist


class WatchIn(Body):
    kind: Literal["person", "plate"]
    label: str = Field(min_length=1, max_length=200, description="the name, or the plate")
    aliases: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list,
                                                                 max_length=watchlist.MAX_ALIASES)
    note: str = Field("", max_length=1000)


class EmailIn(Body):
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")


@bp.get("/watchlist")
@roles()
def list_watchlist() -> Any:
    """The watchlist (admin only)."""
    return jsonify(items=[out.watch_entry(e) for e in watchlist.entries(g.db)])


@bp.post("/watchlist")
@roles()
@accepts(WatchIn)
def add_watch(body: WatchIn) -> Any:
    """Add a person (with aliases) or a plate to the watchlist."""
    entry = watchlist.add(g.db, g.actor, body.kind, body.label, body.aliases, body.note)
    g.db.commit()
    return jsonify(out.watch_entry(watchlist.view(g.db, entry))), 201


@bp.post("/watchlist/<int:entry_id>/remove")
@roles()
def remove_watch(entry_id: int) -> Any:
    """Take an entry off the watchlist."""
    watchlist.remove(g.db, g.actor, entry_id)
    g.db.commit()
    return jsonify(removed=entry_id)


@bp.get("/gate/alerts")
@roles(*DESK)
def list_alerts() -> Any:
    """The gate's alerts, newest first: watchlist hits, refused exits, passes signed in twice; ?kind=."""
    kind = request.args.get("kind") or None
    if kind and kind not in gate_alerts.KINDS:
        raise Invalid(N_("unknown alert kind %(kind)s"), code="bad_filter", kind=kind[:30])
    return jsonify(items=[out.alert(a) for a in gate_alerts.recent(g.db, kind)])


@bp.post("/gate/alerts/<int:alert_id>/resolve")
@roles()
def resolve_alert(alert_id: int) -> Any:
    """Mark an alert as dealt with (admin)."""
    alert = gate_alerts.resolve(g.db, g.actor, alert_id)
    g.db.commit()
    return jsonify(out.alert(alert))


@bp.get("/gate/notifications")
@roles()
def list_notifications() -> Any:
    """Host and watchlist notifications, newest first, with their delivery state (admin)."""
    return jsonify(items=[out.notification(n) for n in notify.recent(g.db)])


@bp.put("/gate/hosts/<code>/email")
@roles()
@accepts(EmailIn)
def set_host_email(code: str, body: EmailIn) -> Any:
    """Where a host is told of their visitors' arrival (null: not by email)."""
    person = directory.set_email(g.db, g.actor, code, body.email)
    g.db.commit()
    return jsonify(code=person.code, email=person.email)
