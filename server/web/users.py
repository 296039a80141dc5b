"""Users and API tokens (admin): create a user, set a role, disable or enable, reset a password;
create and revoke API tokens. A new password or token secret is shown once, on the answer page.

The rules (last admin, no locking yourself out, sessions ending) are in ``services.users``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, g, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Optional

from server import auth, names, settings_of
from server.auth import roles
from server.errors import DomainError
from server.i18n import N_
from server.services import users
from server.web.errors import fail
from server.web.forms import confirmation_page, show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("users", __name__)
MENU = [MenuItem("users.index", N_("Users and tokens"), "system")]
USER_FIELDS = {"bad_user_name": "username", "already_exists": "username", "unknown_role": "role",
               "short_password": "password"}
TOKEN_FIELDS = {"bad_token_name": "name", "already_exists": "name", "unknown_role": "role", "bad_expiry": "expires"}


def _role_choices() -> list[tuple[str, str]]:
    return [(role, names.role(role)) for role in sorted(users.ROLES)]


class UserForm(FlaskForm):
    username = StringField(_l("Username"), validators=[InputRequired(message=_l("Fill this in."))],
                           render_kw={"maxlength": 80, "autocomplete": "off"})
    role = SelectField(_l("Role"), choices=[], validate_choice=False)  # the service says what is wrong
    password = PasswordField(_l("Password (leave empty to have one generated)"),
                             render_kw={"autocomplete": "new-password", "maxlength": 200})


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[], validate_choice=False)


class TokenForm(FlaskForm):
    name = StringField(_l("Token name"), validators=[InputRequired(message=_l("Fill this in."))],
                       render_kw={"maxlength": 80, "autocomplete": "off"})
    role = SelectField(_l("Role"), choices=[], validate_choice=False)
    expires = DateField(_l("Last day it works (optional)"), validators=[Optional()])


def _users_page(form: UserForm, status: int = 200) -> Any:
    rows = users.list_users(g.db)
    return render_template("users/index.html", form=form, rows=rows, roles=_role_choices()), status


def _user(username: str) -> Any:
    try:
        return users.user_by_name(g.db, username)
    except DomainError as exc:
        fail(404, exc.localized())


def _secret_page(title: str, what: str, secret: str, back: str) -> Any:
    """A password or token secret, shown this once: kept out of the browser's cache and history store."""
    response = make_response(render_template("users/secret.html", title=title, what=what, secret=secret, back=back))
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(exc: DomainError) -> Any:
    g.db.rollback()
    flash(exc.localized(), "error")
    return redirect(url_for("users.index"))


@bp.route("/users", methods=["GET", "POST"])
@roles()
def index() -> Any:
    """Users with their roles and state; a form to add one."""
    form = UserForm()
    form.role.choices = _role_choices()
    if form.validate_on_submit():
        password = form.password.data or users.generate_password()
        try:
            user = users.create_user(g.db, g.actor, (form.username.data or "").strip(), password, form.role.data or "")
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, USER_FIELDS)
            return _users_page(form, 422)
        g.db.commit()
        if form.password.data:
            flash(_("The user %(name)s is created.", name=user.username))
            return redirect(url_for("users.index"))
        return _secret_page(_("The user %(name)s is created", name=user.username), _("Password"), password,
                            url_for("users.index"))
    return _users_page(form, 422 if form.is_submitted() else 200)


@bp.post("/users/<username>/role")
@roles()
def set_role(username: str) -> Any:
    """Give a user another role; their sessions end."""
    _user(username)
    form = RoleForm()
    try:
        users.set_role(g.db, g.actor, username, form.role.data or "")
    except DomainError as exc:
        return _refused(exc)
    g.db.commit()
    flash(_("%(name)s is now %(role)s; they sign in again.", name=username, role=names.role(form.role.data)))
    return redirect(url_for("users.index"))


@bp.post("/users/<username>/disable")
@roles()
def disable(username: str) -> Any:
    """Disable a user (after a confirmation step): they cannot sign in and their sessions end."""
    _user(username)
    confirm = confirmation_page(_("Disable the user %(name)s?", name=username), url_for("users.index"),
                                _("They are signed out at once and cannot sign in until enabled again."))
    if confirm is not None:
        return confirm
    try:
        users.disable(g.db, g.actor, username)
    except DomainError as exc:
        return _refused(exc)
    g.db.commit()
    flash(_("The user %(name)s is disabled.", name=username))
    return redirect(url_for("users.index"))


@bp.post("/users/<username>/enable")
@roles()
def enable(username: str) -> Any:
    """Let a disabled user sign in again."""
    _user(username)
    try:
        users.enable(g.db, g.actor, username)
    except DomainError as exc:
        return _refused(exc)
    g.db.commit()
    flash(_("The user %(name)s can sign in again.", name=username))
    return redirect(url_for("users.index"))


@bp.post("/users/<username>/password")
@roles()
def reset_password(username: str) -> Any:
    """Give a user a new generated password (after a confirmation step), shown once; their sessions end."""
    _user(username)
    confirm = confirmation_page(_("Reset the password of %(name)s?", name=username), url_for("users.index"),
                                _("Their password stops working and they are signed out at once."))
    if confirm is not None:
        return confirm
    try:
        user, password = users.reset_password(g.db, g.actor, username)
    except DomainError as exc:
        return _refused(exc)
    g.db.commit()
    if user.username == g.actor.name:
        auth.remember(user)  # your own reset: the other sessions end, this one goes on
    return _secret_page(_("New password of %(name)s", name=username), _("Password"), password, url_for("users.index"))


def _tokens_page(form: TokenForm, status: int = 200) -> Any:
    rows = [(token, users.token_state(token)) for token in users.list_tokens(g.db)]
    return render_template("users/tokens.html", form=form, rows=rows), status


@bp.route("/users/tokens", methods=["GET", "POST"])
@roles()
def tokens() -> Any:
    """API tokens: name, role, last use, expiry, state; a form to make one (its secret is shown once)."""
    form = TokenForm()
    form.role.choices = _role_choices()
    if form.validate_on_submit():
        until = users.end_of_day(form.expires.data, settings_of(current_app).timezone) if form.expires.data else None
        try:
            token, secret = users.issue_token(g.db, g.actor, (form.name.data or "").strip(), form.role.data or "",
                                              until)
        except DomainError as exc:
            g.db.rollback()
            show_domain_error(form, exc, TOKEN_FIELDS)
            return _tokens_page(form, 422)
        g.db.commit()
        return _secret_page(_("The API token %(name)s is created", name=token.name), _("Token"), secret,
                            url_for("users.tokens"))
    return _tokens_page(form, 422 if form.is_submitted() else 200)


@bp.post("/users/tokens/<token_id>/revoke")
@roles()
def revoke_token(token_id: str) -> Any:
    """Revoke an API token (after a confirmation step): it is refused from the next request on."""
    try:
        token = users.token_by_id(g.db, token_id)
    except DomainError as exc:
        fail(404, exc.localized())
    confirm = confirmation_page(_("Revoke the API token %(name)s?", name=token.name), url_for("users.tokens"),
                                _("Programs that use it are refused from the next request on."))
    if confirm is not None:
        return confirm
    try:
        users.revoke_token(g.db, g.actor, token.id)
    except DomainError as exc:
        g.db.rollback()
        flash(exc.localized(), "error")
        return redirect(url_for("users.tokens"))
    g.db.commit()
    flash(_("The API token %(name)s is revoked.", name=token.name))
    return redirect(url_for("users.tokens"))
