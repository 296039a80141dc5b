"""Where a label's ``/c/<code>`` URL lands: the page of whatever the code names."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from contract import codes
from server.auth import READERS, roles
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
    if parsed.kind == codes.Kind.ASSET and seals.find(g.db, str(parsed)) is not None:
        endpoint = "seals.page"  # a seal's label carries an A- code too
    try:
        values: dict[str, Any] = {argument: str(parsed)}
        return redirect(url_for(endpoint, **values))
    except BuildError:
        fail(404, _("Codes of this kind (%(kind)s-) have no page yet.", kind=parsed.kind.value))
