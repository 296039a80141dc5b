"""Labels: print labels for any list of codes. A template picker with each stock's size, a preview of
the first sheet, and the PDF (made here and now, or by a job when the batch is big)."""

from __future__ import annotations

import re
import subprocess
from typing import Any

from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

import labels
from server import settings_of
from server.auth import roles
from server.errors import DomainError
from server.i18n import N_
from server.models import Job
from server.services import job_tasks, jobs, printing
from server.web.errors import fail
from server.web.nav import MenuItem

bp = Blueprint("labels", __name__)
MENU = [MenuItem("labels.page", N_("Labels"), "assets")]
_SPLIT = re.compile(r"[\s,;]+")
PREVIEW_DPI = 60  # the first sheet as a picture: enough to see the layout, small to send


def split_codes(text: str) -> list[str]:
    return [c for c in _SPLIT.split(text or "") if c]


def template_choices() -> list[dict[str, Any]]:
    """The built-in templates with their stock and sizes, for the picker (from labels.templates)."""
    out = []
    for name in labels.templates.names():
        tpl = labels.templates.get(name)
        if tpl.grid is not None and tpl.page is not None:
            page_w, page_h = _mm(tpl.page.width_mm), _mm(tpl.page.height_mm)
            stock = _("Sheet %(width)s × %(height)s mm, %(count)s labels (%(columns)s × %(rows)s)",
                      width=page_w, height=page_h, count=tpl.per_page, columns=tpl.grid.columns, rows=tpl.grid.rows)
        else:
            stock = _("Roll, one label at a time")
        label_w, label_h = _mm(tpl.label.width_mm), _mm(tpl.label.height_mm)
        out.append({"name": name, "stock": stock, "per_page": tpl.per_page, "dpi": tpl.printer.dpi,
                    "size": _("%(width)s × %(height)s mm", width=label_w, height=label_h)})
    return out


def _mm(value: float) -> str:
    return f"{value:g}"


def _form() -> dict[str, str]:
    settings = settings_of(current_app)
    return {"codes": request.values.get("codes", ""), "skip": request.values.get("skip", "0") or "0",
            "template": request.values.get("template", settings.label_template)}


def _skip(form: dict[str, str]) -> int:
    try:
        return int(form["skip"])
    except ValueError:
        raise DomainError(N_("Labels already used must be a whole number."), field="skip") from None


def _show(form: dict[str, str], error: DomainError | None = None, preview: str | None = None) -> Any:
    """The page; a refusal beside the field it is about (or above the form)."""
    if error is not None and request.headers.get("HX-Request"):  # the preview button: say it where the picture goes
        return render_template("labels/_preview.html", preview=None, error=error.localized())
    errors = {error.params.get("field") or "form": error.localized()} if error else {}
    html = render_template("labels/page.html", form=form, templates=template_choices(), errors=errors,
                           preview=preview, inline_max=jobs.LABELS_INLINE_MAX)
    return (html, 422) if error else html


@bp.route("/labels", methods=["GET", "POST"])
@roles("storekeeper")
def page() -> Any:
    """A form: codes (one per line), template, labels already used on the sheet -> preview, or the PDF."""
    form = _form()
    if request.method == "GET":
        return _show(form)
    try:
        codes, skip = split_codes(form["codes"]), _skip(form)
        if request.form.get("action") == "preview":
            return _preview(form, codes, skip)
        made = job_tasks.labels_now_or_later(g.db, settings_of(current_app), g.actor, codes, form["template"], skip)
    except DomainError as exc:
        return _show(form, exc)
    if isinstance(made, Job):
        return redirect(url_for("jobs.page", job_id=made.id))
    g.db.commit()
    return Response(made, mimetype="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="labels.pdf"'})


def _preview(form: dict[str, str], codes: list[str], skip: int) -> Any:
    """The page again with a picture of the first sheet (htmx: only the picture's part)."""
    batch = printing.prepare(g.db, codes, org=settings_of(current_app).org_name, template_name=form["template"],
                             skip=skip)  # refuses bad input here, not in the picture's request
    first = [label.code for label in batch.items[:batch.template.per_page - skip]]
    url = url_for("labels.preview", codes=",".join(first), template=form["template"], skip=skip)
    if request.headers.get("HX-Request"):
        return render_template("labels/_preview.html", preview=url)
    return _show(form, preview=url)


@bp.get("/labels/preview.png")
@roles("storekeeper")
def preview() -> Any:
    """The first sheet of a batch as a PNG (not a print: not audited)."""
    settings = settings_of(current_app)
    form = _form()
    try:
        pdf = printing.first_sheet(g.db, split_codes(form["codes"]), org=settings.org_name,
                                   template=form["template"], base_url=settings.label_base_url, skip=_skip(form))
    except DomainError as exc:
        fail(422, exc.localized())
    png = subprocess.run(["pdftoppm", "-png", "-r", str(PREVIEW_DPI), "-singlefile", "-"], input=pdf,
                         capture_output=True, check=True, timeout=60).stdout
    return Response(png, mimetype="image/png", headers={"Cache-Control": "private, max-age=300"})
