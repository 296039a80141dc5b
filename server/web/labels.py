"""Labels: print labels for any list of codes; the form answers with the PDF."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, render_template, request
from flask_babel import gettext as _

import labels
from server import settings_of
from server.auth import roles
from server.errors import DomainError
from server.i18n import N_
from server.services import printing
from server.web.nav import MenuItem

bp = Blueprint("labels", __name__)
MENU = [MenuItem("labels.page", N_("Labels"))]
_SPLIT = re.compile(r"[\s,;]+")


@bp.route("/labels", methods=["GET", "POST"])
@roles("storekeeper")
def page() -> Any:
    """A form: codes (one per line), template, labels already used on the sheet -> PDF."""
    settings = settings_of(current_app)
    form = {"codes": request.values.get("codes", ""), "template": request.values.get("template",
            settings.label_template), "skip": request.values.get("skip", "0")}
    if request.method == "POST":
        wanted = [c for c in _SPLIT.split(form["codes"]) if c]
        try:
            skip = int(form["skip"] or 0)
            pdf = printing.render(g.db, g.actor, wanted, org=settings.org_name, template=form["template"],
                                  base_url=settings.label_base_url, skip=skip)
        except ValueError:
            flash(_("Labels already used must be a whole number."), "error")
        except DomainError as exc:
            flash(exc.localized(), "error")
        else:
            g.db.commit()
            return Response(pdf, mimetype="application/pdf",
                            headers={"Content-Disposition": 'inline; filename="labels.pdf"'})
        return render_template("labels/page.html", form=form, templates=labels.templates.names()), 422
    return render_template("labels/page.html", form=form, templates=labels.templates.names())
