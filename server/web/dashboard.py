"""The dashboard: what each role needs to see first."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template

from server.auth import READERS, roles
from server.i18n import N_
from server.services import reports
from server.web.nav import MenuItem

bp = Blueprint("dashboard", __name__)
MENU = [MenuItem("dashboard.index", N_("Dashboard"))]


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    """Dashboard: assets by status."""
    return render_template("dashboard.html", by_status=reports.assets_by(g.db, "status").rows)
