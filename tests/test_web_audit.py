"""The audit log page: filters, keyset pages, the tamper check run from the page; the REST twin."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update

from server.audit import SYSTEM, Actor
from server.models import AuditEntry
from server.services import directory
from tests.admin_support import login


def _seed(sessions: Any, rooms: int = 3) -> None:
    clerk = Actor("wang", "web", "storekeeper")
    with sessions() as session, session.begin():
        for i in range(rooms):
            directory.create_location(session, clerk, f"Room {i}")
        directory.create_person(session, SYSTEM, "Li Wei", "IT")


def _rows(page: str) -> list[str]:
    return re.findall(r'<td class="num">(\d+)</td><td>', page)


@pytest.mark.parametrize("role,status", [("guard", 403), ("storekeeper", 403), ("auditor", 200), ("admin", 200)])
def test_who_may_read_the_audit_log(client: Any, sessions: Any, role: str, status: int) -> None:
    login(client, sessions, role)
    assert client.get("/audit").status_code == status
    assert client.get("/audit/check").status_code == status
    assert client.post("/audit/check").status_code == status


def test_filters_and_pages(client: Any, sessions: Any) -> None:
    _seed(sessions, 55)
    login(client, sessions, "auditor")
    first = client.get("/audit").get_data(as_text=True)
    assert len(_rows(first)) == 50
    cursor = re.search(r'rel="next" href="[^"]*after=([^"&]+)', first).group(1)  # type: ignore[union-attr]
    second = client.get(f"/audit?after={cursor}").get_data(as_text=True)
    assert len(_rows(second)) == 57 - 50 and set(_rows(first)).isdisjoint(_rows(second))  # 55 + person + user
    assert len(_rows(client.get("/audit?actor=wang").get_data(as_text=True))) == 50
    assert len(_rows(client.get("/audit?entity=person").get_data(as_text=True))) == 1
    family = client.get("/audit?action=user").get_data(as_text=True)  # user.create of the auditor signing in
    assert len(_rows(family)) == 1 and "user.create" in family
    assert len(_rows(client.get("/audit?action=user.create").get_data(as_text=True))) == 1
    assert len(_rows(client.get("/audit?action=use").get_data(as_text=True))) == 0  # a family is a whole word
    past = client.get("/audit?since=2001-01-01&until=2001-12-31").get_data(as_text=True)
    assert len(_rows(past)) == 0 and "没有符合条件的审计记录" in past
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()  # days are the office's days
    assert len(_rows(client.get(f"/audit?since={today}&until={today}&entity=person").get_data(as_text=True))) == 1


@pytest.mark.parametrize("query,field,message", [
    ("since=yesterday", "since", "yesterday 不是日期"),
    ("since=2026-05-02&until=2026-05-01", "until", "开始日期晚于结束日期"),
    ("actor=" + "x" * 101, "actor", "筛选条件最多 100 个字符"),
])
def test_bad_filters_are_told_in_chinese(client: Any, sessions: Any, query: str, field: str, message: str) -> None:
    login(client, sessions, "auditor")
    response = client.get(f"/audit?{query}")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert re.search(rf'<p class="error" id="f-{field}-err">[^<]*{message}', body), body


def test_check_runs_from_the_page_and_finds_an_edit(client: Any, sessions: Any) -> None:
    _seed(sessions)
    login(client, sessions, "auditor")
    assert "开始校验" in client.get("/audit/check").get_data(as_text=True)
    intact = client.post("/audit/check").get_data(as_text=True)
    assert "完整无误" in intact and "已校验记录数" in intact
    with sessions() as session, session.begin():
        second = session.execute(text("SELECT id FROM audit_log ORDER BY id LIMIT 1 OFFSET 1")).scalar_one()
        session.execute(update(AuditEntry).where(AuditEntry.id == second).values(actor="mallory"))
    broken = client.post("/audit/check").get_data(as_text=True)
    assert "发现问题" in broken and "完整无误" not in broken
    assert re.search(rf"<dd>{second}</dd>", broken)  # the first broken row, named


def test_rest_audit_filters_and_cursor(client: Any, tokens: Any, sessions: Any) -> None:
    _seed(sessions, 4)
    auditor = tokens.headers("auditor")
    page = client.get("/api/v1/audit?limit=3&actor=wang", headers=auditor).get_json()
    assert len(page["items"]) == 3 and page["next"]
    rest = client.get(f"/api/v1/audit?limit=3&actor=wang&after={page['next']}", headers=auditor).get_json()
    assert len(rest["items"]) == 1 and rest["next"] is None
    ids = [r["id"] for r in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)
    assert client.get("/api/v1/audit?action=token", headers=auditor).get_json()["items"][0]["action"] == "token.create"
    bad = client.get("/api/v1/audit?since=nope", headers=auditor)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "bad_since"
    assert client.get("/api/v1/audit?offset=10", headers=auditor).get_json()["error"]["code"] == "bad_paging"
    assert client.get("/api/v1/audit?after=garbage", headers=auditor).status_code == 422


def test_check_page_names_the_ledger_record_and_field_that_differ(client: Any, sessions: Any) -> None:
    from server.services import assets, lifecycle

    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        store = directory.create_location(session, SYSTEM, "Store", "storeroom")
        code = assets.create_asset(session, SYSTEM, "One", "Laptop", store.code).code
        lifecycle.dispose(session, SYSTEM, code, "scrapped", "D-1")
    login(client, sessions, "auditor")
    intact = client.post("/audit/check").get_data(as_text=True)
    assert "完整无误" in intact and "已比对的台账记录" in intact
    with sessions() as session, session.begin():
        session.execute(text("UPDATE assets SET status = 'in_use' WHERE code = :c"), {"c": code})
    broken = client.post("/audit/check").get_data(as_text=True)
    assert "发现问题" in broken and "台账与审计日志的记载不符" in broken
    row = re.search(r"<tr><td>assets</td><td>([^<]+)</td><td>status</td><td>in_use</td><td>disposed</td>"
                    r"<td>\d+</td><td>该字段与此记录最新的审计记录不符</td></tr>", broken)
    assert row is not None and row.group(1) == code, broken


def test_check_page_finds_a_deleted_tail_against_the_checkpoint(app: Any, client: Any, sessions: Any) -> None:
    from server import settings_of
    from server.audit import check, checkpoints

    _seed(sessions, 4)
    settings = settings_of(app)
    with sessions() as session:
        point, _actions = check.take_checkpoint(session, checkpoints.load(settings))
    checkpoints.append(settings, checkpoints.signing_key(settings), point)
    login(client, sessions, "auditor")  # signing in writes an audit row too: after the checkpoint
    assert "完整无误" in client.post("/audit/check").get_data(as_text=True)
    with sessions() as session, session.begin():
        session.execute(text("DELETE FROM audit_log WHERE id > 3"))
    broken = client.post("/audit/check").get_data(as_text=True)
    assert "审计日志最新的记录缺失" in broken and re.search(r"<dt>已比对的检查点</dt><dd>1</dd>", broken)


def test_a_long_log_is_checked_by_a_job_and_its_page_shows_the_findings(
        client: Any, sessions: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from server.services import jobs

    _seed(sessions, 3)
    monkeypatch.setattr(jobs, "AUDIT_ROWS_INLINE_MAX", 2)  # "long": more rows than the request reads itself
    login(client, sessions, "auditor")
    with sessions() as session, session.begin():
        session.execute(update(AuditEntry).where(AuditEntry.id == 2).values(actor="mallory"))
    started = client.post("/audit/check")
    assert started.status_code == 303 and "/audit/check/" in started.headers["Location"]
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    deadline = time.monotonic() + 60
    while "发现问题" not in page and "完整无误" not in page and time.monotonic() < deadline:
        assert "在后台运行" in page, page
        time.sleep(0.5)
        page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert "发现问题" in page and re.search(r"<dd>2</dd>", page), page  # the edited row, found by the job
    other = login(client, sessions, "admin", "another-admin")
    assert other and client.get(started.headers["Location"]).status_code == 200  # an admin may look
    login(client, sessions, "auditor", "another-auditor")
    assert client.get(started.headers["Location"]).status_code == 404  # not another auditor's job
