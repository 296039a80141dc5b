"""Web UI: sign-in and the first read-only pages. One blueprint; views stay thin."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from sqlalchemy import func, select

from server import auth
from server.auth import READERS, public, roles
from server.errors import DomainError
from server.models import Asset, Location
from server.services import assets

bp = Blueprint("web", __name__, template_folder="../templates")


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    """Sign in with a username and password."""
    if request.method == "POST":
        user = auth.check_login(g.db, request.form.get("username", ""), request.form.get("password", ""))
        if user is None:
            flash("Wrong username or password.")
            return render_template("login.html"), 401
        session.clear()
        session["user_id"] = user.id
        target = request.args.get("next", "")
        # Only local paths: an open redirect would make phishing links look like ours.
        return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("web.index"))
    return render_template("login.html")


@bp.post("/logout")
@roles(*READERS)
def logout() -> Any:
    """Sign out."""
    session.clear()
    return redirect(url_for("web.login"))


@bp.get("/")
@roles(*READERS)
def index() -> Any:
    """Dashboard: assets by status and by location."""
    by_status = g.db.execute(select(Asset.status, func.count()).group_by(Asset.status)).all()
    by_location = g.db.execute(
        select(Location.name, func.count(Asset.id)).join(Asset, Asset.location_id == Location.id)
        .group_by(Location.name).order_by(func.count(Asset.id).desc()).limit(20)).all()
    recent, total = assets.list_assets(g.db, limit=50)
    return render_template("index.html", by_status=by_status, by_location=by_location, assets=recent, total=total)


@bp.get("/assets/<code>")
@roles(*READERS)
def asset_page(code: str) -> Any:
    """One asset and its history."""
    try:
        asset = assets.asset_by_code(g.db, code)
        events = assets.history(g.db, code)
    except DomainError:
        abort(404)
    return render_template("asset.html", asset=asset, events=events)


@bp.get("/c/<code>")
@roles(*READERS)
def code_link(code: str) -> Any:
    """Where a label's /c/<code> URL lands: the item's page."""
    if code.upper().startswith("A-"):
        return redirect(url_for("web.asset_page", code=code.upper()))
    abort(404)


from server.web import labels as _labels  # noqa: E402,F401  (registers the labels page)
