"""Reference data (categories, locations, people): refusals say what is wrong, in the reader's
language, and change nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from contract import codes
from server.audit import SYSTEM
from server.errors import DomainError
from server.models import AuditEntry, Location, Person
from server.services import directory, supplies


def _refusal(sessions: Any, call: Any) -> DomainError:
    with sessions() as session, pytest.raises(DomainError) as caught:
        call(session)
    return caught.value


@pytest.mark.parametrize(("call", "code", "english", "chinese"), [
    (lambda s: directory.person_by_code(s, str(codes.new_code("L"))), "wrong_kind",
     "is not a person's badge code", "不是人员工牌编号"),
    (lambda s: directory.location_by_code(s, "not a code"), "bad_code", "is not an AssetGate code", "不是本系统的编号"),
    (lambda s: supplies.item_by_code(s, str(codes.new_code("P"))), "wrong_kind",
     "is not a supply item code", "不是物品编号"),
    (lambda s: directory.create_location(s, SYSTEM, "Hall", kind="attic"), "bad_kind", "is one of", "存放地点类型须为"),
    (lambda s: directory.create_person(s, SYSTEM, " " * 3), "bad_name", "person name must be 1 to 200",
     "人员姓名 须为 1 至 200 个字符"),
    (lambda s: directory.category_by_name(s, "Boats"), "unknown_category",
     "no category named Boats", "没有名为“Boats”的品目"),
])
def test_refusals_are_clear_in_both_languages(app: Any, sessions: Any, call: Any, code: str, english: str,
                                              chinese: str) -> None:
    error = _refusal(sessions, call)
    assert error.code == code
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert english in error.localized()
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert chinese in error.localized()
        assert english not in error.localized()


def test_unknown_person_and_taken_code_change_nothing(app: Any, sessions: Any) -> None:
    with sessions.begin() as session:
        person = directory.create_person(session, SYSTEM, "Wang Fang", "Finance")
        taken = person.code
    with sessions() as session:
        before = (session.scalar(select(func.count()).select_from(Person)),
                  session.scalar(select(func.count()).select_from(AuditEntry)))
    unknown = str(codes.new_code("P"))
    error = _refusal(sessions, lambda s: directory.person_by_code(s, unknown))
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert error.localized() == f"没有编号为 {unknown} 的人员"
    clash = _refusal(sessions, lambda s: directory.create_person(s, SYSTEM, "Li Lei", code=taken))
    assert clash.code == "already_exists"
    with app.test_request_context(headers={"Accept-Language": "zh"}):
        assert clash.localized() == f"编号 {taken} 已被占用"
    with sessions() as session:
        assert (session.scalar(select(func.count()).select_from(Person)),
                session.scalar(select(func.count()).select_from(AuditEntry))) == before
        assert session.scalar(select(func.count()).select_from(Location)) == 0
