"""Charts of the reports, drawn on the server by pygal as SVG and inlined in the page.

No script at all: pygal's CDN script is switched off (``js=[]``) and its inline config script is
taken out of the tree, so a chart needs nothing from the network and works without JavaScript
(the table beside it carries the exact figures). Text is in the reader's language and drawn in
the page's CJK-capable font stack. pygal escapes every label it writes, so names from the
ledger cannot inject markup.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pygal
from flask_babel import gettext as _
from markupsafe import Markup
from pygal.style import Style

from server import names
from server.i18n import fmt_number
from server.services.reports import Report

# The stack of server/static/app.css: the SVG is inline, so the browser's own CJK fonts apply.
FONT_STACK = 'system-ui,"PingFang SC","Microsoft YaHei","Noto Sans CJK SC","WenQuanYi Micro Hei",sans-serif'
STYLE = Style(font_family=FONT_STACK, background="transparent", plot_background="#ffffff",
              foreground="#1d2430", foreground_strong="#1d2430", foreground_subtle="#5b6472",
              colors=("#2a6fdb", "#e07a1f", "#1e7b34", "#b3261e", "#6b4fbb", "#0f8b8d", "#9a6700", "#8a8f98"),
              title_font_size=18, label_font_size=13, major_label_font_size=13, legend_font_size=14,
              value_font_size=13, no_data_font_size=32)
MAX_BARS = 30  # one bar per row only for the first rows; more would be unreadable


def _strip_scripts(root: Any) -> Any:
    """pygal's xml filter: drop its <script> elements and comments; say the SVG is an image."""
    doomed = [(parent, child) for parent in root.iter() for child in parent
              if not isinstance(child.tag, str) or child.tag.rsplit("}", 1)[-1] == "script"]
    for parent, child in doomed:
        parent.remove(child)
    root.set("role", "img")
    return root


def _chart(kind: type[pygal.graph.graph.Graph], title: str, labels: list[str], **options: Any) -> Any:
    chart = kind(style=STYLE, js=[], disable_xml_declaration=True, title=title, no_data_text=_("No data"),
                 width=900, height=420, legend_at_bottom=True, truncate_legend=-1, truncate_label=30,
                 x_label_rotation=30 if len(labels) > 8 else 0, value_formatter=fmt_number, **options)
    chart.x_labels = labels
    chart.add_xml_filter(_strip_scripts)
    return chart


def _f(value: Decimal | int | None) -> float | None:
    return None if value is None else float(value)


def _by(rows: list[dict[str, Any]], key: str, value: str) -> tuple[list[Any], dict[Any, float]]:
    """Distinct ``key``s in row order and the sum of ``value`` per key."""
    sums: dict[Any, float] = defaultdict(float)
    for row in rows:
        sums[row[key]] += float(row[value] or 0)
    return list(sums), sums


def spend(report: Report) -> Any:
    periods = list(dict.fromkeys(r["period"] for r in report.rows))
    chart = _chart(pygal.StackedBar, _("Spend per period and category"), periods, y_title=_("Yuan"))
    amounts = {(r["period"], r["category"]): r["amount"] for r in report.rows}
    for category in sorted({r["category"] for r in report.rows}):
        chart.add(category, [_f(amounts.get((p, category))) for p in periods])
    return chart


def spend_by_method(report: Report) -> Any:
    chart = _chart(pygal.Bar, _("Spend per procurement method"), [names.method(r["method"]) for r in report.rows],
                   y_title=_("Yuan"))
    chart.add(_("Amount"), [_f(r["amount"]) for r in report.rows])
    chart.add(_("Of which by approved exception"), [_f(r["amount_by_exception"]) for r in report.rows])
    return chart


def plan_execution(report: Report) -> Any:
    # Per category rather than per line: a plan has many lines, and a category's total is what is decided on.
    categories, used = _by(report.rows, "category", "used_amount")
    remaining = _by(report.rows, "category", "remaining_amount")[1]
    chart = _chart(pygal.HorizontalStackedBar, _("Plan amount used and remaining per category"), categories,
                   x_title=_("Yuan"))  # horizontal: the values run along x
    chart.add(_("Amount used"), [used[c] for c in categories])
    chart.add(_("Amount remaining"), [max(remaining[c], 0.0) for c in categories])
    return chart


def _group_label(by: str, row: dict[str, Any]) -> str:
    value = row[by]
    if by == "status":
        return names.status(value)
    if by == "location":
        return row.get("name") or value or _("No location")
    return value or _("None")


def assets(report: Report) -> Any:
    by = report.columns[0]
    labels = [_group_label(by, r) for r in report.rows]
    title = {"status": _("Assets by status"), "category": _("Assets by category"),
             "location": _("Assets by location"), "department": _("Assets by department")}[by]
    if by == "status":
        chart = _chart(pygal.Pie, title, [], inner_radius=0.45, print_values=True)  # no tooltips without JS
        for label, row in zip(labels, report.rows, strict=True):
            chart.add(label, [row["count"]])
        return chart
    chart = _chart(pygal.HorizontalBar, title, labels, show_legend=False)
    chart.add(_("Number of assets"), [r["count"] for r in report.rows])
    return chart


def bought_per_year(report: Report) -> Any:
    chart = _chart(pygal.Bar, _("Assets acquired per year"), [str(r["year"]) for r in report.rows],
                   y_title=_("Yuan"), show_legend=False)
    chart.add(_("Value"), [_f(r["value"]) for r in report.rows])
    return chart


def overdue(report: Report) -> Any:
    rows = report.rows[:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, _("Hours late per asset"), [r["asset"] for r in rows], show_legend=False)
    chart.add(_("Hours late"), [r["late_by_hours"] for r in rows])
    return chart


def usage_log(report: Report) -> Any:
    categories = list(dict.fromkeys(r["category"] for r in report.rows))
    chart = _chart(pygal.Bar, _("Check-outs of controlled items per category"), categories)
    chart.add(_("Check-outs"), [sum(1 for r in report.rows if r["category"] == c) for c in categories])
    chart.add(_("Of which late"), [sum(1 for r in report.rows if r["category"] == c and r["late"])
                                   for c in categories])
    return chart


def maintenance_cost(report: Report) -> Any:
    by = "asset" if "asset" in report.columns else ("department" if "department" in report.columns else "category")
    keys, costs = _by(report.rows, by, "cost")
    keys = sorted(keys, key=lambda k: -costs[k])[:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, _("Maintenance cost"), [k or _("None") for k in keys], x_title=_("Yuan"),
                   show_legend=False)
    chart.add(_("Cost"), [costs[k] for k in keys])
    return chart


def total_cost(report: Report) -> Any:
    rows = sorted(report.rows, key=lambda r: -(r["total_cost"] or 0))[:MAX_BARS]
    chart = _chart(pygal.HorizontalStackedBar, _("Total cost of ownership (highest first)"),
                   [r["asset"] for r in rows], x_title=_("Yuan"))
    chart.add(_("Price"), [_f(r["price"]) for r in rows])
    chart.add(_("Maintenance cost"), [_f(r["maintenance"]) for r in rows])
    return chart


def spend_by_department(report: Report) -> Any:
    years = sorted({r["year"] for r in report.rows})
    departments = sorted({r["department"] for r in report.rows})
    chart = _chart(pygal.Bar, _("Spend per department and year"), departments, y_title=_("Yuan"))
    amounts = {(r["year"], r["department"]): r["amount"] for r in report.rows}
    for year in years:
        chart.add(str(year), [_f(amounts.get((year, d))) for d in departments])
    return chart


def execution_rate(report: Report) -> Any:
    labels = [f"{r['department']} · {r['category']}" for r in report.rows][:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, _("Execution rate (%)"), labels, show_legend=False, range=(0, 100))
    chart.add(_("Execution rate (%)"), [_f(r["percent_used"]) for r in report.rows[:MAX_BARS]])
    return chart


def requests(report: Report) -> Any:
    departments = sorted({r["department"] for r in report.rows})
    chart = _chart(pygal.StackedBar, _("Purchase requests per department"), departments)
    counts = {(r["department"], r["request_state"]): r["requests"] for r in report.rows}
    for state in ("pending", "approved", "rejected", "withdrawn"):
        if any(s == state for _d, s in counts):
            chart.add(names.approval_state(state), [counts.get((d, state), 0) for d in departments])
    return chart


def _supply_label(row: dict[str, Any]) -> str:
    return str(row.get("department") or row.get("taker_name") or row.get("item_name") or row.get("taker")
               or row.get("item") or _("None"))


def supply_consumption(report: Report) -> Any:
    keys, costs = _by([{**r, "key": _supply_label(r)} for r in report.rows], "key", "consumed_cost")
    keys = sorted(keys, key=lambda k: -costs[k])[:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, _("Office supplies used (FIFO cost)"), keys, x_title=_("Yuan"),
                   show_legend=False)
    chart.add(_("Cost used (FIFO)"), [costs[k] for k in keys])
    return chart


def supply_top_consumers(report: Report) -> Any:
    chart = _chart(pygal.HorizontalBar, _("Top consumers of office supplies"),
                   [_supply_label(r) for r in report.rows], x_title=_("Yuan"), show_legend=False)
    chart.add(_("Cost used (FIFO)"), [_f(r["consumed_cost"]) for r in report.rows])
    return chart


def supply_stock_value(report: Report) -> Any:
    rows = sorted(report.rows, key=lambda r: -(r["stock_value"] or 0))[:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, _("Stock value (FIFO), highest first"), [r["item_name"] for r in rows],
                   x_title=_("Yuan"), show_legend=False)
    chart.add(_("Stock value (FIFO)"), [_f(r["stock_value"]) for r in rows])
    return chart


def vehicle_cost_per_km(report: Report) -> Any:
    rows = [r for r in report.rows if r["cost_per_km"] is not None][:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, _("Cost per km"), [r["plate"] for r in rows], x_title=_("Yuan"),
                   show_legend=False)
    chart.add(_("Cost per km"), [_f(r["cost_per_km"]) for r in rows])
    return chart


def vehicle_use_by_department(report: Report) -> Any:
    departments = [r["department"] or _("None") for r in report.rows]
    chart = _chart(pygal.Bar, _("Vehicle use by department"), departments)
    chart.add(_("Trips"), [r["trips"] for r in report.rows])
    chart.add(_("Hours out"), [_f(r["hours_out"]) for r in report.rows])
    return chart


def vehicle_utilisation(report: Report) -> Any:
    rows = report.rows[:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, _("Utilisation (%)"), [r["plate"] for r in rows], show_legend=False,
                   range=(0, 100))
    chart.add(_("Utilisation (%)"), [_f(r["utilisation_percent"]) for r in rows])
    return chart


def trips_without_dispatch(report: Report) -> Any:
    plates = sorted({r["plate"] for r in report.rows})
    chart = _chart(pygal.Bar, _("Trips without a dispatch"), plates, show_legend=False)
    chart.add(_("Trips"), [sum(1 for r in report.rows if r["plate"] == p) for p in plates])
    return chart


def archive_loans(report: Report) -> Any:
    departments = list(dict.fromkeys(r["department"] or _("None") for r in report.rows))
    classes = list(dict.fromkeys(r["archive_class"] for r in report.rows))
    chart = _chart(pygal.StackedBar, _("Archive loans per department and class"), departments)
    counts = {(r["department"] or _("None"), r["archive_class"]): r["loans"] for r in report.rows}
    for name in classes:
        chart.add(name, [counts.get((d, name), 0) for d in departments])
    return chart


def archive_overdue(report: Report) -> Any:
    rows = report.rows[:MAX_BARS]
    chart = _chart(pygal.HorizontalBar, _("Days late per volume"), [r["volume"] for r in rows], show_legend=False)
    chart.add(_("Days late"), [r["days_late"] for r in rows])
    return chart


def archive_review(report: Report) -> Any:
    classes = list(dict.fromkeys(r["archive_class"] for r in report.rows))
    chart = _chart(pygal.StackedBar, _("Volumes due for review per class"), classes)
    chart.add(_("Retention ended"), [sum(1 for r in report.rows if r["archive_class"] == c and r["past_retention"])
                                     for c in classes])
    chart.add(_("Retention ends soon"), [sum(1 for r in report.rows if r["archive_class"] == c
                                             and not r["past_retention"]) for c in classes])
    return chart


CHARTS: dict[str, Callable[[Report], Any]] = {
    "spend": spend, "spend-by-method": spend_by_method, "plan-execution": plan_execution, "assets": assets,
    "bought-per-year": bought_per_year, "overdue": overdue, "usage-log": usage_log,
    "maintenance-cost": maintenance_cost, "total-cost": total_cost, "spend-by-department": spend_by_department,
    "execution-rate": execution_rate, "requests": requests, "supply-consumption": supply_consumption,
    "supply-top-consumers": supply_top_consumers, "supply-stock-value": supply_stock_value,
    "vehicle-cost-per-km": vehicle_cost_per_km,
    "vehicle-use-by-department": vehicle_use_by_department, "vehicle-utilisation": vehicle_utilisation,
    "trips-without-dispatch": trips_without_dispatch,
    "archive-loans": archive_loans,
    "archive-overdue": archive_overdue, "archive-review": archive_review,
}


def capped(name: str, report: Report) -> int | None:
    """How many rows the chart shows when it does not show them all (overdue only draws one bar a row)."""
    capped_reports = ("overdue", "maintenance-cost", "total-cost", "execution-rate", "supply-consumption",
                      "supply-stock-value", "vehicle-cost-per-km", "vehicle-utilisation", "archive-overdue")
    return MAX_BARS if name in capped_reports and len(report.rows) > MAX_BARS else None


def draw(name: str, report: Report) -> Markup:
    """The chart of report ``name`` (a key of services.reports.REPORTS) as inline SVG markup."""
    svg = CHARTS[name](report).render(is_unicode=True)
    return Markup(svg)  # pygal's own serialised XML: every label in it is escaped
