"""Sign in, sign out, and the language switch."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from server import auth
from server.auth import READERS, public, roles
from server.i18n import LANGUAGES
from server.models import utcnow
from server.services import signin, users

bp = Blueprint("session", __name__)


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would make phishing links look like ours.

    Browsers drop tabs and newlines and read a backslash as a slash, so ``/%09/evil`` or ``/\\evil``
    would leave the site; anything with a scheme, a host or such characters goes to the dashboard.
    """
    fallback = url_for("dashboard.index")
    if not target:
        return fallback
    # Judge the text as given and once percent-decoded: a proxy or browser may decode it again.
    for form in (target, unquote(target)):
        if not form.startswith("/") or form.startswith("//") or any(ch in form for ch in "\\\t\r\n\x00"):
            return fallback
        if any(ord(ch) < 32 for ch in form) or urlsplit(form).netloc or urlsplit(form).scheme:
            return fallback
    return target


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    """Sign in with a username and password."""
    if request.method == "POST":
        username, address = request.form.get("username", ""), request.remote_addr or "?"
        until = signin.held_until(g.db, username, address)
        if until is not None:
            signin.refused_while_held(username, address, until)
            minutes = max(1, math.ceil((until - utcnow()).total_seconds() / 60))
            flash(_("Too many failed sign-ins. Try again in %(minutes)s minutes.", minutes=minutes), "error")
            return render_template("login.html"), 429
        user = auth.check_login(g.db, username, request.form.get("password", ""))
        if user is None:
            signin.record_failure(g.db, username, address)
            g.db.commit()
            flash(_("Wrong username or password."), "error")
            return render_template("login.html"), 401
        signin.record_success(g.db, username)
        g.db.commit()
        language = session.get("language")
        auth.remember(user)
        if user.language is None and language in LANGUAGES:
            session["language"] = language
        return redirect(safe_next(request.args.get("next")))
    return render_template("login.html")


@bp.post("/logout")
@roles(*READERS)
def logout() -> Any:
    """Sign out: this user's session cookies, this one and any copy of it, are refused from now on."""
    user = auth.session_user(g.db)
    if user is not None:
        users.sign_out(g.db, user)
        g.db.commit()
    session.clear()
    return redirect(url_for("session.login"))


@bp.post("/language")
@public
def set_language() -> Any:
    """Switch the language; kept as the user's setting when signed in, for the session otherwise."""
    language = request.form.get("language", "")
    if language in LANGUAGES:
        session["language"] = language
        user = auth.session_user(g.db)
        if user is not None:
            users.set_language(g.db, user, language)
            g.db.commit()
    return redirect(safe_next(request.form.get("next")))
