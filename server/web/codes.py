"""Where a label's ``/c/<code>`` URL lands: the page of whatever the code names."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.routing import BuildError

from contract import codes
from server.auth import READERS, roles
from server.models import ArchiveVolume, Asset, Vehicle
from server.services import seals
from server.web.errors import fail

bp = Blueprint("codes", __name__)

# Code kind -> (endpoint, argument). Areas that add a kind of item add its page here.
PAGES: dict[codes.Kind, tuple[str, str]] = {
    codes.Kind.ASSET: ("assets.page", "code"),
    codes.Kind.LOCATION: ("assets.location_page", "code"),
    codes.Kind.PERSON: ("assets.person_page", "code"),
    codes.Kind.SUPPLY: ("supplies.item_page", "code"),
    codes.Kind.VISITOR: ("gate.pass_page", "code"),
}


@bp.get("/c/<path:code>")
@roles(*READERS)
def open_code(code: str) -> Any:
    """Open the page of the item a code names, or say clearly what is wrong with the code."""
    try:
        parsed = codes.parse(code)
    except codes.CodeError as exc:
        message = (_("%(code)s is not a valid code: a character was misread or mistyped.", code=code[:40])
                   if exc.reason == "bad_check" else
                   _("%(code)s is not a code this system prints.", code=code[:40]))
        fail(404, message)
    target = PAGES.get(parsed.kind)
    if target is None or target[0] not in current_app.view_functions:
        fail(404, _("Codes of this kind (%(kind)s-) have no page yet.", kind=parsed.kind.value))
    endpoint, argument = target
    values: dict[str, Any] = {argument: str(parsed)}
    if parsed.kind == codes.Kind.ASSET:
        endpoint, values = _asset_page(str(parsed))
    try:
        return redirect(url_for(endpoint, **values))
    except BuildError:
        fail(404, _("Codes of this kind (%(kind)s-) have no page yet.", kind=parsed.kind.value))


def _asset_page(code: str) -> tuple[str, dict[str, Any]]:
    """The page of the thing an A- code is on. A seal has an A- code of its own (no asset row); an
    archive volume or file and an official vehicle are assets with pages of their own, found in one
    query; anything else, or a code nothing has (that page says so), opens the asset page."""
    if seals.find(g.db, code) is not None:
        return "seals.page", {"code": code}
    row = g.db.execute(
        select(ArchiveVolume.asset_id, Vehicle.plate)
        .select_from(Asset)
        .outerjoin(ArchiveVolume, ArchiveVolume.asset_id == Asset.id)
        .outerjoin(Vehicle, Vehicle.asset_id == Asset.id)
        .where(Asset.code == code)).first()
    if row is not None and row.asset_id is not None:
        return "archives.volume", {"code": code}
    if row is not None and row.plate is not None:
        return "vehicles.page", {"plate": row.plate}
    return "assets.page", {"code": code}
