"""Reports: the list of decision reports and one page per report with its filters, a chart drawn on
the server (report_charts), a table and CSV/XLSX downloads.

The figures come from services.reports.build, the same call the REST API makes. A filter the
report does not take is refused by the service; the page shows why beside the filter (422).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Blueprint, Response, g, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField

from server import exports
from server.auth import roles
from server.i18n import N_
from server.services import reports, vehicle_reports
from server.web import report_charts, report_tables
from server.web.errors import fail
from server.web.forms import show_domain_error
from server.web.nav import MenuItem

bp = Blueprint("reports", __name__)
MENU = [MenuItem("reports.index", N_("Reports"))]


class FilterForm(FlaskForm):
    """A report's filters: a GET form, so no CSRF token (it changes nothing)."""

    class Meta:
        csrf = False


def _year(label: Any) -> Any:
    return StringField(label, render_kw={"inputmode": "numeric", "size": 6, "placeholder": _l("All years")})


_PERIODS = {"month": _l("Month"), "quarter": _l("Quarter"), "year": _l("Year")}
_GROUPS = {"status": _l("Status"), "category": _l("Asset category"), "location": _l("Location"),
           "department": _l("Department")}
_ITEMS = {"": _l("All items"), "1": _l("Controlled items only")}


def _select(label: Any, names: dict[str, Any]) -> Any:
    return SelectField(label, choices=[SelectChoice(value, label) for value, label in names.items()])


def _day(label: Any) -> Any:
    return StringField(label, render_kw={"type": "date"})


def _span() -> dict[str, Any]:
    return {"from": _day(_l("From date")), "to": _day(_l("To date"))}


_UPKEEP_BY = {"category": _l("Asset category"), "department": _l("Department"), "asset": _l("Asset")}
_ANY_PERIOD = {"": _l("Whole range"), **_PERIODS}
_SUPPLY_BY = {"department": _l("Department"), "person": _l("Person"), "item": _l("Supply item")}

# The arguments each report's page offers, by the service's own argument names and choices.
FILTERS: dict[str, dict[str, Any]] = {
    "spend": {"year": _year(_l("Year")), "period": _select(_l("Period"), {p: _PERIODS[p] for p in reports.PERIODS}),
              **_span()},
    "spend-by-method": {"year": _year(_l("Year")), **_span()},
    "plan-execution": {"year": _year(_l("Budget year"))},
    "assets": {"by": _select(_l("Group by"), {d: _GROUPS[d] for d in reports.ASSET_DIMENSIONS})},
    "overdue": {"controlled": _select(_l("Items"), _ITEMS)},
    "usage-log": _span(),
    "maintenance-cost": {"by": _select(_l("Group by"), _UPKEEP_BY), "period": _select(_l("Period"), _ANY_PERIOD),
                         **_span()},
    "spend-by-department": {"year": _year(_l("Year")), **_span()},
    "execution-rate": {"year": _year(_l("Budget year"))},
    "requests": _span(),
    "supply-consumption": {"by": _select(_l("Group by"), _SUPPLY_BY), "period": _select(_l("Period"), _ANY_PERIOD),
                           **_span()},
    "supply-top-consumers": {"by": _select(_l("Group by"), {k: _SUPPLY_BY[k] for k in ("department", "person")}),
                             **_span()},
    **{name: _span() for name in vehicle_reports.FAMILY},
    "archive-loans": _span(),
    "archive-review": {"within": StringField(_l("Retention ending within (days)"),
                                             render_kw={"inputmode": "numeric", "size": 6, "placeholder": "90"})},
}


def _known(name: str) -> None:
    if name not in reports.REPORTS:
        fail(404, _("There is no report %(name)s.", name=name[:40]))


@cache
def _form_class(name: str) -> type[FilterForm]:
    return type(f"Filters_{name.replace('-', '_')}", (FilterForm,), dict(FILTERS.get(name, {})))


def _filters(name: str) -> tuple[FilterForm, dict[str, str]]:
    """The report's filter form filled from the query string, and the arguments it passes on."""
    form = _form_class(name)(formdata=request.args)
    return form, {key: request.args[key] for key in FILTERS.get(name, {}) if key in request.args}


@bp.get("/reports")
@roles(*reports.READERS)
def index() -> Any:
    """The list of reports."""
    items = [(name, _(reports.TITLES[name]), _(reports.DESCRIPTIONS[name])) for name in reports.REPORTS]
    return render_template("reports/index.html", items=items)


@bp.get("/reports/<name>")
@roles(*reports.READERS)
def page(name: str) -> Any:
    """One report: filters, chart, table, downloads."""
    _known(name)
    form, args = _filters(name)
    context = {"name": name, "title": _(reports.TITLES[name]), "description": _(reports.DESCRIPTIONS[name]),
               "form": form}
    try:
        report = reports.build(g.db, name, args)
    except reports.BadFilter as exc:
        show_domain_error(form, exc, {exc.code: exc.field})
        return render_template("reports/page.html", **context), 422
    values: dict[str, Any] = {"name": name, **args}
    downloads = {fmt: url_for("reports.download", fmt=fmt, **values) for fmt in ("csv", "xlsx")}
    return render_template("reports/page.html", **context, table=report_tables.table(report),
                           chart=report_charts.draw(name, report), downloads=downloads,
                           chart_capped=report_charts.capped(name, report))


@bp.get("/reports/<name>/download.<fmt>")
@roles(*reports.READERS)
def download(name: str, fmt: str) -> Any:
    """The report as CSV or XLSX: the table's columns, headers in the reader's language."""
    _known(name)
    if fmt not in ("csv", "xlsx"):
        fail(404, _("Reports can be downloaded as CSV or XLSX."))
    _form, args = _filters(name)
    try:
        report = reports.build(g.db, name, args)
    except reports.BadFilter as exc:
        fail(422, exc.localized())
    data = report_tables.table(report)
    if fmt == "csv":
        body, mimetype = exports.to_csv(data.labels, data.cells()), exports.CSV_MIMETYPE
    else:
        body = exports.to_xlsx(_(reports.TITLES[name]), data.labels, data.cells(), data.kinds)
        mimetype = exports.XLSX_MIMETYPE
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{report.name}.{fmt}"'})
