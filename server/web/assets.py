"""Assets: the asset page with its history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, render_template
from flask_babel import gettext as _

from server.auth import READERS, roles
from server.errors import DomainError
from server.services import assets
from server.web.errors import fail

bp = Blueprint("assets", __name__)
MENU: list[Any] = []


@bp.get("/assets/<code>")
@roles(*READERS)
def page(code: str) -> Any:
    """One asset and its history."""
    try:
        asset = assets.asset_by_code(g.db, code)
        events = assets.history(g.db, code)
    except DomainError:
        fail(404, _("There is no asset with the code %(code)s.", code=code[:40]))
    return render_template("assets/page.html", asset=asset, events=events)
