"""Helpers shared by the areas' forms: the confirmation step of destructive actions, domain errors
shown beside their fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, g, render_template, request
from flask_wtf import FlaskForm

from server.errors import DomainError


def confirmation_page(summary: str, cancel_url: str, warning: str | None = None) -> Any | None:
    """The confirmation step of a destructive action (works without JavaScript).

    The first POST answers with a page that repeats the form's fields and asks "yes?"; the second,
    with ``confirmed=1``, goes through (the view returns None from here and carries on).
    """
    if request.form.get("confirmed") == "1":
        return None
    fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", "confirmed")]
    return render_template("confirm.html", summary=summary, warning=warning, fields=fields,
                           action=request.full_path.rstrip("?"), cancel_url=cancel_url)


def show_domain_error(form: FlaskForm, exc: DomainError, field_for: dict[str, str] | None = None) -> None:
    """Put a service's refusal beside the field it is about (by its code), or above the form."""
    name = (field_for or {}).get(exc.code)
    target = getattr(form, name, None) if name else None
    if target is not None:
        target.errors = [*target.errors, exc.localized()] if isinstance(target.errors, list) else [exc.localized()]
    else:
        form.form_errors.append(exc.localized())


def attempt(action: Callable[[], Any], form: FlaskForm | None = None, field_for: dict[str, str] | None = None) -> bool:
    """Run one service call for a page: commit when it goes through; when the service refuses, roll
    back and show why (beside its field when there is a form, as a flash message otherwise)."""
    try:
        action()
    except DomainError as exc:
        g.db.rollback()
        if form is None:
            flash(exc.localized(), "error")
        else:
            show_domain_error(form, exc, field_for)
        return False
    g.db.commit()
    return True
