"""Plan lines: one by one, and a whole plan from CSV/XLSX with a per-row error report."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from server import audit
from server.cli import main
from server.errors import AlreadyExists, Invalid
from server.models import AuditEntry, PlanLine
from server.services import plans
from tests.procurement_support import ACTOR, office, plan_line

HEADER = "ref,budget_year,department,category,approved_qty,unit_price_cap,approved_amount,method,approval_ref\n"
GOOD = ("2026-IT-01,2026,IT,Laptop,10,6000.00,50000.00,framework_agreement,GOV-2026-12\n"
        "2026-IT-02,2026,IT,Printer,3,2000,5400.5,online_inquiry,GOV-2026-12\n")
BAD = ("2026-IT-03,2026,IT,Laptop,0,6000.00,50000.00,framework_agreement,GOV-2026-12\n"  # qty 0
       "2026-IT-04,2026,IT,Tractor,1,6000.00,50000.00,framework_agreement,GOV-2026-12\n"  # no such category
       "2026-IT-05,2026,IT,Laptop,1,6000.001,50000.00,framework_agreement,GOV-2026-12\n"  # three decimals
       "2026-IT-06,2026,IT,Laptop,1,6000.00,50000.00,barter,GOV-2026-12\n"  # method
       "2026-IT-01,2026,IT,Laptop,1,6000.00,50000.00,other,\n")  # twice, and no approval ref


@pytest.fixture
def db(engine_sessions: Any) -> Any:
    with engine_sessions() as session, session.begin():
        office(session)
    with engine_sessions() as session:
        yield session


def _count(db: Any) -> int:
    return db.scalar(select(func.count()).select_from(PlanLine)) or 0


def test_good_csv_imports_every_row(db: Any) -> None:
    report = plans.import_rows(db, ACTOR, plans.read_table((HEADER + GOOD).encode("utf-8-sig")))
    assert report.ok and report.imported == ["2026-IT-01", "2026-IT-02"]
    line = plans.line_by_ref(db, "2026-IT-02")
    assert str(line.approved_amount) == "5400.50" and line.category.name == "Printer"
    db.commit()
    entry = db.scalars(select(AuditEntry).where(AuditEntry.entity_id == "2026-IT-02")).one()
    assert (entry.action, entry.after) == ("plan_line.create", {
        "ref": "2026-IT-02", "budget_year": 2026, "department": "IT", "category_id": line.category_id,
        "approved_qty": 3, "unit_price_cap": "2000.00", "approved_amount": "5400.50", "method": "online_inquiry",
        "approval_ref": "GOV-2026-12"})
    assert audit.verify(db).ok


def test_one_bad_row_imports_nothing_and_reports_each(db: Any) -> None:
    report = plans.import_rows(db, ACTOR, plans.read_table((HEADER + GOOD + BAD).encode()))
    assert not report.ok and report.imported == []
    assert [(e.row, e.code) for e in report.errors] == [
        (3, "invalid"), (4, "unknown_category"), (5, "invalid"), (6, "invalid"), (7, "invalid")]
    assert "approved_qty 0" in report.errors[0].message and "more than two decimals" in report.errors[2].message
    assert "missing approval_ref" in report.errors[4].message
    db.flush()
    assert _count(db) == 0


def test_skip_bad_imports_the_good_rows(db: Any) -> None:
    report = plans.import_rows(db, ACTOR, plans.read_table((HEADER + GOOD + BAD).encode()), skip_bad=True)
    assert report.ok and report.imported == ["2026-IT-01", "2026-IT-02"] and len(report.errors) == 5
    assert _count(db) == 2
    again = plans.import_rows(db, ACTOR, plans.read_table((HEADER + GOOD).encode()))
    assert [e.code for e in again.errors] == ["already_exists", "already_exists"]


def test_xlsx_import(db: Any) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER.strip().split(","))
    sheet.append(["2026-IT-01", 2026, "IT", "Laptop", 10, 6000, 50000.5, "framework_agreement", "GOV-1"])
    sheet.append([None] * 9)  # blank rows are ignored
    buffer = io.BytesIO()
    book.save(buffer)
    report = plans.import_rows(db, ACTOR, plans.read_table(buffer.getvalue(), "plan.xlsx"))
    assert report.ok and str(plans.line_by_ref(db, "2026-IT-01").approved_amount) == "50000.50"


def test_bad_files(db: Any) -> None:
    with pytest.raises(Invalid, match="lacks the columns approval_ref"):
        plans.read_table(HEADER.replace(",approval_ref", "").encode())
    with pytest.raises(Invalid, match="Save As and pick .CSV UTF-8"):
        plans.read_table(b"\xff\xfe" + HEADER.encode("utf-16-le"))
    with pytest.raises(Invalid, match="XLSX"):
        plans.read_table(b"PK\x03\x04 not a zip", "x.xlsx")


def test_single_line_and_duplicate(db: Any) -> None:
    plan_line(db)
    with pytest.raises(AlreadyExists):
        plan_line(db)


def test_rest_import_and_roles(client: Any, tokens: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        office(session)
    admin = tokens.headers("admin")
    bad = client.post("/api/v1/plans/import", data=(HEADER + GOOD + BAD).encode(), headers=admin)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "bad_rows"
    assert len(bad.get_json()["errors"]) == 5
    upload = {"file": (io.BytesIO((HEADER + GOOD).encode()), "plan.csv")}
    ok = client.post("/api/v1/plans/import", data=upload, headers=admin, content_type="multipart/form-data")
    assert ok.status_code == 201 and ok.get_json()["imported"] == ["2026-IT-01", "2026-IT-02"]
    listed = client.get("/api/v1/plans?year=2026", headers=tokens.headers("auditor")).get_json()
    assert [i["ref"] for i in listed["items"]] == ["2026-IT-01", "2026-IT-02"]
    assert listed["items"][0]["remaining_amount"] == "50000.00"
    assert client.post("/api/v1/plans/import", data=GOOD.encode(), headers=tokens.headers("storekeeper")
                       ).status_code == 403
    one = {"ref": "2027-IT-01", "budget_year": 2027, "department": "IT", "category": "Laptop", "approved_qty": 1,
           "unit_price_cap": "1.00", "approved_amount": "1.00", "method": "other", "approval_ref": "X"}
    r = client.post("/api/v1/plans", json=one, headers=admin)
    assert r.status_code == 201 and r.get_json()["used_qty"] == 0
    assert client.get("/api/v1/plans/nope", headers=admin).get_json()["error"]["code"] == "unknown_plan_line"


def test_cli_import(tmp_path: Path, database_url: str, engine_sessions: Any) -> None:
    with engine_sessions() as session, session.begin():
        office(session)
    env = {"ASSETGATE_INSTANCE_PATH": str(tmp_path / "inst"), "ASSETGATE_DATABASE_URL": database_url}
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + GOOD + BAD)
    result = CliRunner().invoke(main, ["plans", "import", str(bad)], env=env)
    assert result.exit_code == 1 and "row 4 (2026-IT-04): unknown_category" in result.output
    result = CliRunner().invoke(main, ["plans", "import", str(bad), "--skip-bad"], env=env)
    assert result.exit_code == 0 and "2 plan lines imported, 5 bad rows skipped" in result.output


def test_an_import_refuses_a_formula_where_a_code_is_expected(engine_sessions: Any) -> None:
    """Issue 15: a plan reference such as =HYPERLINK(...) would run in a spreadsheet that opens an export."""
    from server.audit import SYSTEM
    from server.errors import Invalid
    from server.services import directory, plans

    with engine_sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        good = {"ref": "2026-IT-01", "budget_year": 2026, "department": "IT", "category": "Laptop",
                "approved_qty": 1, "unit_price_cap": "10", "approved_amount": "10", "method": "other",
                "approval_ref": "x"}
        plans.parse_line(session, good)
        for field, value in (("ref", '=HYPERLINK("http://x","y")'), ("approval_ref", "@SUM(A1)"),
                             ("ref", "+1"), ("department", "-2+3")):
            try:
                plans.parse_line(session, {**good, field: value})
            except Invalid as exc:
                assert exc.code == "formula_refused", (field, value)
            else:
                raise AssertionError(f"{field}={value} was accepted")
