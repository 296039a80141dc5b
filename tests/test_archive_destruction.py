"""Destruction lists (销毁清册): only volumes past retention, none on loan, none on two lists; the
approval chain (archive manager, principal leader); carried out with who destroyed and who witnessed;
the PDF rendered and read back with pdftotext."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
from sqlalchemy import select

from server.errors import DomainError, IllegalTransition, RuleViolation
from server.models import AssetEvent
from server.services import approvals, archive_destruction, archive_loans, archives, assets
from tests.archive_support import KEEPER, MANAGER, PRINCIPAL, Office, approved_loan, make_office


@pytest.fixture
def office(sessions: Any) -> Office:
    return make_office(sessions)


def _old_volume(sessions: Any, office: Office, title: str, year: int = 2012, reference: str = "") -> str:
    with sessions() as session, session.begin():
        return archives.create_volume(session, KEEPER, archives.VolumeIn(
            title, "WS", year, "10y", "internal", office.shelf, reference=reference)).asset.code


def _approve(sessions: Any, destruction_id: int) -> None:
    for actor in (MANAGER, PRINCIPAL):
        with sessions() as session, session.begin():
            approvals.decide(session, actor, archive_destruction.by_id(session, destruction_id).approval_id, "approve")


def _pdf_text(pdf: bytes, tmp_path: Any) -> str:
    path = tmp_path / "list.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def test_only_volumes_past_retention_and_not_out_are_listed(sessions: Any, office: Office) -> None:
    second = _old_volume(sessions, office, "2012年度会议纪要二")
    with sessions() as session:
        assert {v.asset.code for v in archive_destruction.due(session)} == {office.old, second}
    with sessions() as session, session.begin():
        for codes, code in (([office.public], "not_past_retention"), ([office.old, office.old], "bad_volumes"),
                            ([], "bad_volumes"), ([office.plain], "not_a_volume")):
            with pytest.raises(DomainError) as refused:
                archive_destruction.propose(session, KEEPER, codes, "已过保管期限，经鉴定无保存价值")
            assert refused.value.code == code, codes
        with pytest.raises(DomainError) as no_reason:
            archive_destruction.propose(session, KEEPER, [office.old], " ")
        assert no_reason.value.code == "bad_reason"
    approved_loan(sessions, office.old, office.borrower)
    with sessions() as session, session.begin():
        archive_loans.lend(session, KEEPER, office.old, office.borrower)
    with sessions() as session, session.begin():
        with pytest.raises(RuleViolation) as out:
            archive_destruction.propose(session, KEEPER, [office.old, second], "无保存价值")
        assert out.value.code == "volume_on_loan"
    with sessions() as session, session.begin():
        made = archive_destruction.propose(session, KEEPER, [second], "无保存价值")
        assert made.approval.level_list == ["archive_manager", "principal"] and made.approval.quantity == 1
        with pytest.raises(RuleViolation) as twice:
            archive_destruction.propose(session, KEEPER, [second], "无保存价值")
        assert twice.value.code == "in_destruction"
        assert [v.asset.code for v in archive_destruction.due(session)] == [office.old]


def test_destruction_approved_carried_out_and_printed(app: Any, sessions: Any, office: Office,
                                                     tmp_path: Any) -> None:
    second = _old_volume(sessions, office, "2012年度会议纪要二", reference="WS-2012-002")
    with sessions() as session, session.begin():
        made = archive_destruction.propose(session, KEEPER, [office.old, second], "已过保管期限，经鉴定无保存价值")
        list_id = made.id
    with sessions() as session, session.begin(), pytest.raises(IllegalTransition):  # not approved yet
        archive_destruction.carry_out(session, KEEPER, list_id, "王强", "赵敏", "粉碎")
    _approve(sessions, list_id)
    with sessions() as session, session.begin():
        for who, witnesses, method, code in (("", "赵敏", "粉碎", "bad_executor"),
                                             ("王强", " ", "粉碎", "bad_witnesses"),
                                             ("王强", "赵敏、王强", "粉碎", "bad_witnesses"),
                                             ("王强", "赵敏", "", "bad_method")):
            with pytest.raises(DomainError) as refused:
                archive_destruction.carry_out(session, KEEPER, list_id, who, witnesses, method)
            assert refused.value.code == code
    with (app.test_request_context(headers={"Accept-Language": "zh"}), sessions() as session, session.begin(),
          pytest.raises(IllegalTransition)):  # no PDF before the destruction
        archive_destruction.pdf(session, KEEPER, archive_destruction.by_id(session, list_id), "某某办公室")
    with sessions() as session, session.begin():
        done = archive_destruction.carry_out(session, KEEPER, list_id, "王强", "赵敏, 孙丽", "粉碎")
        assert (done.executor, done.witnesses, archive_destruction.state(done)) == ("王强", "赵敏、孙丽", "destroyed")
    with sessions() as session, session.begin(), pytest.raises(IllegalTransition):  # once only
        archive_destruction.carry_out(session, KEEPER, list_id, "王强", "赵敏", "粉碎")
    with sessions() as session:
        for code in (office.old, second):
            asset = assets.asset_by_code(session, code)
            assert asset.status == "disposed" and asset.location is None
        event = session.scalars(select(AssetEvent).where(AssetEvent.type == "asset.dispose")
                                .order_by(AssetEvent.id)).first()
        assert event.data == {"disposal_reason": "destroyed", "approval_ref": f"archive-destruction-{list_id}",
                              "executor": "王强", "witnesses": "赵敏、孙丽"}
        assert archive_destruction.due(session) == []
    with app.test_request_context(headers={"Accept-Language": "zh"}), sessions() as session, session.begin():
        pdf = archive_destruction.pdf(session, KEEPER, archive_destruction.by_id(session, list_id), "某某办公室")
    text = _pdf_text(pdf, tmp_path)
    for expected in ("某某办公室 档案销毁清册", office.old, second, "2010年度会议纪要", "2012年度会议纪要二",
                     "WS-2012-002", "文书档案", "10年", "销毁人：王强", "监销人：赵敏、孙丽", "销毁方式：粉碎",
                     "档案室负责人 archivist", "主要领导 principal", "已过保管期限，经鉴定无保存价值"):
        assert expected in text, expected
    with app.test_request_context(headers={"Accept-Language": "en"}), sessions() as session, session.begin():
        english = _pdf_text(archive_destruction.pdf(session, KEEPER, archive_destruction.by_id(session, list_id),
                                                    "Office"), tmp_path)
    assert "Destroyed by: 王强" in english and "Witnessed by: 赵敏、孙丽" in english and "10 years" in english


def test_a_long_list_keeps_its_signatures(app: Any, sessions: Any, office: Office, tmp_path: Any) -> None:
    """Enough rows to fill the first page: the signature lines still come after the last row."""
    codes = [_old_volume(sessions, office, f"会议纪要{n:02d}", 2000 + n % 10) for n in range(40)]
    with sessions() as session, session.begin():
        list_id = archive_destruction.propose(session, KEEPER, codes, "无保存价值").id
    _approve(sessions, list_id)
    with sessions() as session, session.begin():
        archive_destruction.carry_out(session, KEEPER, list_id, "王强", "赵敏", "粉碎")
    with app.test_request_context(headers={"Accept-Language": "zh"}), sessions() as session, session.begin():
        found = archive_destruction.by_id(session, list_id)
        text = _pdf_text(archive_destruction.pdf(session, KEEPER, found, "办公室"), tmp_path)
    assert text.count("\f") >= 2 and "会议纪要39" in text
    assert text.index("会议纪要39") < text.index("销毁人：王强")
