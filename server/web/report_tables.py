"""A report as a person reads it: the table of a report page and the rows of its downloads.

Each column is shown by its kind (services.reports.COLUMNS): headers and codes in the reader's
language, times in the office's time zone, numbers left as numbers for the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import to_user_timezone

from server import names
from server.services import reports

SUMMED = ("count", "money")  # column kinds that get a total under the table


@dataclass(frozen=True)
class Table:
    """A report as a person reads it: headers and code values in their language, times in the office's zone."""

    labels: list[str]
    kinds: list[str]
    rows: list[list[Any]]  # raw values (numbers stay numbers), datetimes parsed; codes named in cells()
    totals: list[Any] | None

    def cells(self) -> list[list[Any]]:
        """Rows for the files: codes named, yes/no in words, local times without a zone (for XLSX)."""
        return [[_file_value(kind, value) for kind, value in zip(self.kinds, row, strict=True)] for row in self.rows]


def _file_value(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "status":
        return names.status(value)
    if kind == "method":
        return names.method(value)
    if kind == "approval_state":
        return names.approval_state(value)
    if kind == "confidentiality":
        return names.confidentiality(value)
    if kind == "retention":
        return names.retention(value)
    if kind == "bool":
        return _("Yes") if value else _("No")
    if kind == "datetime":
        return to_user_timezone(value).replace(tzinfo=None)
    return value


def _parse(kind: str, value: Any) -> Any:
    return datetime.fromisoformat(value) if kind == "datetime" and isinstance(value, str) else value


def table(report: reports.Report) -> Table:
    columns = [report.column(key) for key in report.columns]
    kinds = [c.kind for c in columns]
    rows = [[_parse(c.kind, row.get(key)) for key, c in zip(report.columns, columns, strict=True)]
            for row in report.rows]
    totals = None
    if rows and any(k in SUMMED for k in kinds):
        totals = [sum(row[i] or 0 for row in rows) if kind in SUMMED else None for i, kind in enumerate(kinds)]
    return Table([_(c.label) for c in columns], kinds, rows, totals)
