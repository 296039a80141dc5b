"""Seals: every life-cycle change needs an approval reference (批复文号) and is audited, and a seal lost or
recalled is re-made (重新刻制) as a new seal linked to the one it replaces. Service level, REST and the page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from server.errors import AlreadyExists, DomainError, IllegalTransition
from server.models import AuditEntry, Seal, SealEvent
from server.services import seals
from tests.admin_support import login
from tests.seal_support import KEEPER, Office, office


@pytest.fixture
def found(sessions: Any) -> Office:
    return office(sessions)


def _code(call: Any) -> str:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value.code


def _counts(sessions: Any) -> tuple[int, int, int]:
    with sessions() as session:
        return tuple(int(session.scalar(select(func.count()).select_from(t)) or 0)  # type: ignore[return-value]
                     for t in (Seal, SealEvent, AuditEntry))


def test_every_life_cycle_change_needs_an_approval_reference_and_is_audited(sessions: Any, found: Office) -> None:
    changes = [
        ("seal.suspend", lambda s, ref: seals.step(s, KEEPER, found.seal, "suspend", ref)),
        ("seal.enable", lambda s, ref: seals.step(s, KEEPER, found.seal, "enable", ref)),
        ("seal.custodian", lambda s, ref: seals.change_custodian(s, KEEPER, found.seal, found.other, ref)),
        ("seal.recall", lambda s, ref: seals.step(s, KEEPER, found.seal, "recall", ref)),
        ("seal.remake", lambda s, ref: seals.remake(s, KEEPER, found.seal, seals.RemakeIn(ref, "遗失"))),
        ("seal.destroy", lambda s, ref: seals.step(s, KEEPER, found.seal, "destroy", ref)),
    ]
    for n, (action, change) in enumerate(changes):
        before = _counts(sessions)
        for empty in ("", "   ", "x" * 101):
            with sessions() as session:
                assert _code(lambda c=change, e=empty: c(session, e)) == "approval_required", (action, empty)
        assert _counts(sessions) == before, action  # refused: nothing written
        with sessions() as session, session.begin():
            change(session, f"REF-{n}")
        with sessions() as session:
            entry = session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.id.desc())).first()
            assert entry is not None, action
            assert entry.after["approval_ref"] == f"REF-{n}" and entry.actor == KEEPER.name
    with sessions() as session:
        refs = session.scalars(select(SealEvent.approval_ref).join(Seal, SealEvent.seal_id == Seal.id)
                               .where(Seal.code == found.seal).order_by(SealEvent.id)).all()
        assert refs == ["FIN-2026-01", "FIN-2026-02", *[f"REF-{n}" for n in range(len(changes))]]


def test_a_lost_seal_is_re_made_as_a_new_seal_that_replaces_it(sessions: Any, found: Office) -> None:
    with sessions() as session:
        assert _code(lambda: seals.remake(session, KEEPER, found.seal, seals.RemakeIn("R-1", "遗失"))) == \
            "illegal_transition"  # in service: declared void (suspended) or recalled first
    with sessions() as session, session.begin():
        seals.step(session, KEEPER, found.seal, "suspend", "FIN-2026-09", "遗失，登报声明作废")
    with sessions() as session:
        assert _code(lambda: seals.remake(session, KEEPER, found.seal, seals.RemakeIn("R-1", " "))) == "required"
        assert _code(lambda: seals.remake(session, KEEPER, found.seal,
                                          seals.RemakeIn("R-1", "遗失", custodian="P-0000"))) == "bad_code"
    with sessions() as session, session.begin():
        new = seals.remake(session, KEEPER, found.seal, seals.RemakeIn("FIN-2026-10", "遗失", name="财务局公章（新）",
                                                                       custodian=found.other))
        new_code = new.code
    with sessions() as session:
        old, made = seals.by_code(session, found.seal), seals.by_code(session, new_code)
        assert made.code != old.code and made.replaces_id == old.id and seals.replaced_by(session, old) == made
        assert (made.status, made.kind, made.department, made.name, made.custodian.code) == (
            "made", old.kind, old.department, "财务局公章（新）", found.other)
        assert old.status == "suspended"  # the old seal keeps its state (destroyed in a step of its own)
        assert [(e.action, e.approval_ref) for e in seals.history(session, made)] == [("remake", "FIN-2026-10")]
        last = seals.history(session, old)[-1]
        assert last.action == "replaced" and new_code in last.reason
        audit = {e.action: e for e in session.scalars(select(AuditEntry).where(
            AuditEntry.action.in_(("seal.remake", "seal.replaced"))))}
        assert audit["seal.remake"].after["replaces"] == found.seal and audit["seal.remake"].entity_id == new_code
        assert audit["seal.replaced"].after["replaced_by"] == new_code
        with pytest.raises(AlreadyExists) as twice:
            seals.remake(session, KEEPER, found.seal, seals.RemakeIn("R-2", "再次"))
        assert twice.value.code == "already_replaced" and new_code in twice.value.message
    with sessions() as session, session.begin():  # the new seal goes through its own life cycle
        seals.step(session, KEEPER, new_code, "enable", "FIN-2026-11")
        seals.step(session, KEEPER, found.seal, "destroy", "FIN-2026-12")
    with sessions() as session:
        assert seals.by_code(session, new_code).status == "in_use"
        with pytest.raises(IllegalTransition):
            seals.remake(session, KEEPER, new_code, seals.RemakeIn("R-3", "x"))


def test_re_making_through_the_api_and_the_page(client: Any, sessions: Any, tokens: Any, found: Office) -> None:
    keeper, guard = tokens.headers("storekeeper"), tokens.headers("guard")
    path = f"/api/v1/seals/{found.seal}/remake"
    refused = client.post(path, headers=keeper, json={"approval_ref": "R-1", "reason": "遗失"})
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "illegal_transition")
    assert client.post(path, headers=keeper, json={"approval_ref": "", "reason": "x"}).status_code == 422
    assert client.post(path, headers=guard, json={"approval_ref": "R-1", "reason": "x"}).status_code == 403
    client.post(f"/api/v1/seals/{found.seal}/steps", headers=keeper, json={"action": "recall", "approval_ref": "R-0"})
    made = client.post(path, headers=keeper, json={"approval_ref": "R-1", "reason": "收缴后重刻"})
    assert made.status_code == 201 and made.json["replaces"] == found.seal and made.json["status"] == "made"
    assert client.get(f"/api/v1/seals/{found.seal}", headers=guard).json["replaced_by"] == made.json["code"]
    again = client.post(path, headers=keeper, json={"approval_ref": "R-2", "reason": "x"})
    assert (again.status_code, again.json["error"]["code"]) == (409, "already_replaced")
    login(client, sessions, "storekeeper")
    old_page = client.get(f"/seals/{found.seal}").get_data(as_text=True)
    assert "已由新印章替代" in old_page and made.json["code"] in old_page and "重新刻制印章" not in old_page
    new_page = client.get(f"/seals/{made.json['code']}").get_data(as_text=True)
    assert "替代原印章" in new_page and found.seal in new_page and "重新刻制，替代原印章" in new_page


def test_re_making_on_the_page_with_a_refusal_beside_its_field(client: Any, sessions: Any, found: Office) -> None:
    with sessions() as session, session.begin():
        seals.step(session, KEEPER, found.seal, "suspend", "R-0")
    login(client, sessions, "storekeeper")
    page = client.get(f"/seals/{found.seal}").get_data(as_text=True)
    assert "重新刻制印章" in page and 'name="reason"' in page
    bad = client.post(f"/seals/{found.seal}/remake", data={"approval_ref": "R-1", "reason": "遗失",
                                                          "custodian": "P-ZZZZZZZ0"})
    assert bad.status_code == 422 and "校验位" in bad.get_data(as_text=True)
    done = client.post(f"/seals/{found.seal}/remake", data={"approval_ref": "R-1", "reason": "遗失"})
    assert done.status_code == 302
    with sessions() as session:
        new = session.scalars(select(Seal).where(Seal.replaces_id.is_not(None))).one()
        assert done.headers["Location"].endswith(f"/seals/{new.code}") and new.name == "Finance Bureau seal"
