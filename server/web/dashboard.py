"""The dashboard: what each role needs to see first.

Each part is tied to the view that owns its data; a person sees a part (and its queries run) only
when their role may use that view, so the dashboard never shows what the server would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, g, render_template
from sqlalchemy.orm import Session

from server import settings_of
from server.auth import READERS, roles
from server.i18n import N_
from server.models import utcnow
from server.services import dashboard, reports, seal_takeouts
from server.web.nav import MenuItem, can

bp = Blueprint("dashboard", __name__)
MENU = [MenuItem("dashboard.index", N_("Dashboard"))]

Part = Callable[[Session, datetime, date], Any]
# part -> (the view whose roles may read it, what it shows)
PARTS: dict[str, tuple[str, Part]] = {
    "plan": ("api.get_report", lambda db, now, today: dashboard.plan_summary(db, today)),
    "kiosks": ("kiosks.index", lambda db, now, today: dashboard.kiosk_summary(db, now)),
    "refusals": ("kiosks.rejected", lambda db, now, today: dashboard.refusals(db, now)),
    "overdue": ("api.get_report", lambda db, now, today: dashboard.overdue_controlled(db, now)),
    "storeroom": ("supplies.settle", lambda db, now, today: dashboard.storeroom(db)),
    "vehicles": ("bookings.board", lambda db, now, today: dashboard.vehicles(db, now)),
    "archive_overdue": ("archive_loans.index", lambda db, now, today: dashboard.archive_overdue(db, now)),
    "overdue_seals": ("seal_requests.takeouts", lambda db, now, today: seal_takeouts.overdue(db, now, 10)),
}


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    """Dashboard: assets by status, and the parts the reader's role may see."""
    now = utcnow()
    today = now.astimezone(ZoneInfo(settings_of(current_app).timezone)).date()
    parts = {name: load(g.db, now, today) for name, (endpoint, load) in PARTS.items() if can(endpoint)}
    return render_template("dashboard.html", by_status=reports.assets_by(g.db, "status").rows, **parts)
