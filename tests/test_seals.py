"""Seals (issue 14): the register and life cycle, imprints, use requests through the shared approval
chain and the uses recorded on them, take-outs with their return, overdue seals, and the register's
files. Service level, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from server.audit import Actor
from server.errors import DomainError, IllegalTransition, NotFound, RuleViolation
from server.models import Approval, AuditEntry, Seal, SealEvent, SealImprint, SealUse
from server.services import approvals, seal_imprints, seal_register, seal_takeouts, seal_uses, seals
from tests.seal_support import (
    CLERK,
    KEEPER,
    LEADER,
    LIMIT,
    Office,
    approved_takeout,
    approved_use,
    image,
    make_overdue,
    office,
    takeout_request,
    use_request,
)


@pytest.fixture
def found(sessions: Any) -> Office:
    return office(sessions)


def _refused(call: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def _seal(sessions: Any, code: str) -> tuple[str, list[tuple[str, str | None, str, str]]]:
    with sessions() as session:
        seal = seals.by_code(session, code)
        events = seals.history(session, seal)
        return seal.status, [(e.action, e.from_status, e.to_status, e.approval_ref) for e in events]


# --- register and life cycle ---

def test_life_cycle_with_approval_references_and_refusals(app: Any, sessions: Any, found: Office) -> None:
    with sessions() as session, session.begin():
        seals.step(session, KEEPER, found.seal, "suspend", "FIN-2026-03", "moved offices")
        seals.step(session, KEEPER, found.seal, "enable", "FIN-2026-04")
        seals.step(session, KEEPER, found.seal, "recall", "FIN-2026-05")
    with sessions() as session:
        refused = _refused(lambda: seals.step(session, KEEPER, found.seal, "enable", "X-1"))
        assert isinstance(refused, IllegalTransition)
        assert refused.message == (f"{found.seal} is recalled: enable is possible only from made, suspended")
        with app.test_request_context(headers={"Accept-Language": "zh"}):
            assert refused.localized() == f"{found.seal} 当前为收缴状态，不能启用：只能从刻制、停用状态变更"
        assert _refused(lambda: seals.step(session, KEEPER, found.seal, "destroy", " ")).code == "approval_required"
        assert _refused(lambda: seals.step(session, KEEPER, found.seal, "melt", "X-1")).code == "bad_step"
    with sessions() as session, session.begin():
        seals.step(session, KEEPER, found.seal, "destroy", "FIN-2026-06", "worn out")
    with sessions() as session:
        for action in seals.STEPS:
            assert _refused(lambda a=action: seals.step(session, KEEPER, found.seal, a, "X-2")).code == \
                "illegal_transition"
    status, events = _seal(sessions, found.seal)
    assert status == "destroyed"
    assert events == [("register", None, "made", "FIN-2026-01"), ("enable", "made", "in_use", "FIN-2026-02"),
                      ("suspend", "in_use", "suspended", "FIN-2026-03"),
                      ("enable", "suspended", "in_use", "FIN-2026-04"), ("recall", "in_use", "recalled", "FIN-2026-05"),
                      ("destroy", "recalled", "destroyed", "FIN-2026-06")]
    with sessions() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.entity == "seal",
                                                           AuditEntry.action == "seal.destroy")).all()
        assert len(entries) == 1 and entries[0].before["status"] == "recalled"
        assert entries[0].after["status"] == "destroyed"
        assert (entries[0].after["approval_ref"], entries[0].after["reason"], entries[0].actor) == (
            "FIN-2026-06", "worn out", KEEPER.name)


def test_in_service_seal_cannot_be_destroyed_directly(sessions: Any, found: Office) -> None:
    with sessions() as session:
        refused = _refused(lambda: seals.step(session, KEEPER, found.seal, "destroy", "X-1"))
        assert refused.code == "illegal_transition"
        assert "possible only from made, suspended, recalled" in refused.message


@pytest.mark.parametrize(("field", "value", "code"), [
    ("name", "", "required"), ("name", "x" * 201, "too_long"), ("kind", "private", "bad_kind"),
    ("department", " ", "required"), ("custodian", "P-0000", "bad_code"), ("custodian", "A-000010*", "wrong_kind"),
    ("custodian", "P-ZZZZZZZ0", "bad_check"), ("approval_ref", "", "approval_required"),
    ("made_on", date(1800, 1, 1), "bad_date")])
def test_registration_refuses_bad_input_with_reasons(sessions: Any, found: Office, field: str, value: Any,
                                                     code: str) -> None:
    data: dict[str, Any] = {"name": "Contract seal", "kind": "contract", "department": "Finance",
                            "custodian": found.custodian, "approval_ref": "FIN-9"}
    with sessions() as session:
        before = session.scalars(select(Seal.id)).all()
        refused = _refused(lambda: seals.register(session, KEEPER, seals.SealIn(**{**data, field: value})))
        session.rollback()
        assert refused.code == code and refused.params.get("field", field) == field
        assert session.scalars(select(Seal.id)).all() == before


def test_unknown_custodian_and_seal_are_named(sessions: Any, found: Office) -> None:
    with sessions() as session:
        refused = _refused(lambda: seals.change_custodian(session, KEEPER, found.seal, "P-0000000X", "R-1"))
        assert refused.code in ("bad_check", "unknown_person")
        assert isinstance(_refused(lambda: seals.by_code(session, "A-00000000")), NotFound)


def test_custodian_change_needs_a_reference_and_is_recorded(sessions: Any, found: Office) -> None:
    with sessions() as session, session.begin():
        assert _refused(lambda: seals.change_custodian(session, KEEPER, found.seal, found.other, "")).code == \
            "approval_required"
        assert _refused(lambda: seals.change_custodian(session, KEEPER, found.seal, found.custodian, "R")).code == \
            "same_custodian"
        seals.change_custodian(session, KEEPER, found.seal, found.other, "HR-7", "handover")
    with sessions() as session:
        assert seals.by_code(session, found.seal).custodian.code == found.other
        assert session.scalars(select(SealEvent.approval_ref).where(SealEvent.action == "custodian")).all() == ["HR-7"]


# --- imprints ---

def test_imprint_is_checked_reencoded_and_kept(sessions: Any, found: Office) -> None:
    exif = Image.Exif()
    exif[0x010E] = "secret GPS description"  # ImageDescription
    exif_jpeg = image("JPEG", exif=exif.tobytes())
    assert b"secret GPS" in exif_jpeg
    with sessions() as session, session.begin():
        first = seal_imprints.upload(session, KEEPER, found.seal, image("PNG") + b"<script>alert(1)</script>")
        second = seal_imprints.upload(session, KEEPER, found.seal, exif_jpeg)
        ids = first.id, second.id
    with sessions() as session:
        seal = seals.by_code(session, found.seal)
        current = seal_imprints.current(session, seal)
        assert current is not None and current.id == ids[1]
        assert current.data.startswith(b"\x89PNG") and b"secret GPS" not in current.data
        assert (current.width, current.height) == (120, 120)
        assert b"<script>" not in seal_imprints.one(session, seal, ids[0]).data
        assert [i.id for i in seal_imprints.all_of(session, seal)] == [ids[1], ids[0]]


@pytest.mark.parametrize(("data", "code"), [
    (b"", "imprint_empty"), (b"GIF89a" + b"\x00" * 100, "imprint_not_image"), (b"%PDF-1.7\n", "imprint_not_image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "imprint_not_image"), (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
                                                                          "imprint_unreadable"),
    (b"\x89PNG\r\n\x1a\n" + b"x" * (1024 * 1024), "imprint_too_large")])
def test_bad_imprints_are_refused_with_reasons(sessions: Any, found: Office, data: bytes, code: str) -> None:
    with sessions() as session:
        refused = _refused(lambda: seal_imprints.upload(session, KEEPER, found.seal, data))
        assert refused.code == code and refused.params["field"] == "imprint"
        session.rollback()
        assert session.scalars(select(SealImprint.id)).all() == []


def test_huge_picture_in_a_small_file_is_refused_before_decoding(sessions: Any, found: Office) -> None:
    bomb = image("PNG", (5000, 40))  # a few KB, but wider than the limit
    assert len(bomb) < 50_000
    with sessions() as session:
        refused = _refused(lambda: seal_imprints.upload(session, KEEPER, found.seal, bomb))
        assert refused.code == "imprint_too_large" and "5000 × 40" in refused.message


# --- use requests and uses ---

def test_request_approval_use_and_copies_never_beyond_the_approval(sessions: Any, found: Office) -> None:
    with sessions() as session, session.begin():
        made = use_request(session, found.seal, copies=5)
        chain = session.get(Approval, made.approval_id)
        assert (chain.kind, chain.level_list, chain.quantity) == ("seal_use", ["leader"], 5)
        rid, approval_id = made.id, made.approval_id
    with sessions() as session:  # pending: refused
        refused = _refused(lambda: seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 1)))
        assert (refused.code, refused.message) == (
            "use_not_approved", f"use request {rid} is pending: a seal is used only on an approved request")
    with sessions() as session, session.begin():
        approvals.decide(session, LEADER, approval_id, "approve", 3)  # fewer copies than asked
    with sessions() as session, session.begin():
        seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 2, note="first batch"))
    with sessions() as session:
        over = _refused(lambda: seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 2)))
        assert over.code == "copies_exceeded" and over.message == (
            f"use request {rid} was approved for 3 copies and 2 are stamped: 2 more is too many")
    with sessions() as session, session.begin():
        use = seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 1, stamped_by=found.other))
        assert use.stamped_by.code == found.other
    with sessions() as session:
        assert seal_uses.fulfilment(session, seal_uses.by_id(session, rid)) == {
            "asked": 5, "approved": 3, "stamped": 3, "left": 0}
        uses = seal_uses.uses_of(session, rid)
        assert [(u.copies, u.stamped_by.code, u.recorded_by) for u in uses] == [
            (2, found.custodian, KEEPER.name), (1, found.other, KEEPER.name)]
        assert len(session.scalars(select(AuditEntry).where(AuditEntry.action == "seal.use")).all()) == 2


def test_rejected_request_and_no_request_are_refused(sessions: Any, found: Office) -> None:
    with sessions() as session, session.begin():
        made = use_request(session, found.seal)
        assert _refused(lambda: approvals.decide(session, LEADER, made.approval_id, "reject")).code == \
            "reason_required"
        approvals.decide(session, LEADER, made.approval_id, "reject", reason="not our document")
        rid = made.id
    with sessions() as session:
        assert _refused(lambda: seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 1))).code == \
            "use_not_approved"
        assert _refused(lambda: seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(None, 1))).code == \
            "request_required"
        assert isinstance(_refused(lambda: seal_uses.record_use(session, KEEPER, found.seal,
                                                                seal_uses.UseIn(999, 1))), NotFound)
        assert session.scalars(select(SealUse.id)).all() == []


def test_nobody_approves_their_own_request_and_only_the_leader_may(sessions: Any, found: Office) -> None:
    with sessions() as session, session.begin():
        made = use_request(session, found.seal)
        assert _refused(lambda: approvals.decide(session, CLERK, made.approval_id, "approve")).code == "forbidden"
        assert _refused(lambda: approvals.decide(session, KEEPER, made.approval_id, "approve")).code == "forbidden"


def test_request_for_another_seal_and_a_use_before_its_approval_are_refused(sessions: Any, found: Office) -> None:
    with sessions() as session, session.begin():
        other = seals.register(session, KEEPER, seals.SealIn("Contract seal", "contract", "Finance", found.custodian,
                                                              "FIN-10"))
        seals.step(session, KEEPER, other.code, "enable", "FIN-11")
        other_code = other.code
    rid = approved_use(sessions, found.seal)
    with sessions() as session:
        assert _refused(lambda: seal_uses.record_use(session, KEEPER, other_code, seal_uses.UseIn(rid, 1))).code \
            == "request_for_other_seal"
        earlier = datetime.now(UTC) - timedelta(hours=1)
        assert _refused(lambda: seal_uses.record_use(session, KEEPER, found.seal,
                                                     seal_uses.UseIn(rid, 1, at=earlier))).code == "use_before_approval"
        later = datetime.now(UTC) + timedelta(hours=1)
        assert _refused(lambda: seal_uses.record_use(session, KEEPER, found.seal,
                                                     seal_uses.UseIn(rid, 1, at=later))).code == "bad_time"


def test_a_seal_out_of_service_cannot_be_used_or_asked_for(app: Any, sessions: Any, found: Office) -> None:
    rid = approved_use(sessions, found.seal)
    with sessions() as session, session.begin():
        seals.step(session, KEEPER, found.seal, "suspend", "FIN-12")
    with sessions() as session:
        refused = _refused(lambda: seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 1)))
        assert refused.code == "illegal_transition" and refused.message == (
            f"{found.seal} is suspended: only a seal in service can be used")
        with app.test_request_context(headers={"Accept-Language": "zh"}):
            assert refused.localized() == f"{found.seal} 当前为停用状态：只有启用的印章才能用印"
        assert _refused(lambda: use_request(session, found.seal)).code == "illegal_transition"


@pytest.mark.parametrize(("field", "value", "code"), [
    ("copies", 0, "bad_copies"), ("copies", 10_001, "bad_copies"), ("document_title", "", "required"),
    ("recipient", "x" * 201, "too_long"), ("purpose", "  ", "required"), ("department", "", "required"),
    ("seal", "A-1", "bad_code")])
def test_use_request_bad_input(sessions: Any, found: Office, field: str, value: Any, code: str) -> None:
    data: dict[str, Any] = {"seal": found.seal, "document_title": "Contract", "copies": 2, "recipient": "Bank",
                            "purpose": "loan", "department": "Finance"}
    with sessions() as session:
        refused = _refused(lambda: seal_uses.submit(session, CLERK, seal_uses.UseRequestIn(**{**data, field: value}),
                                                    LIMIT))
        assert refused.code == code


# --- take-outs ---

def test_takeout_out_and_back_only_with_an_approved_request(sessions: Any, found: Office) -> None:
    with sessions() as session:
        refused = _refused(lambda: seal_takeouts.take_out(session, KEEPER, found.seal, found.carrier))
        assert refused.code == "no_takeout_approval" and refused.message == (
            f"{found.seal} may leave the office only on an approved take-out request")
    with sessions() as session, session.begin():
        pending = takeout_request(session, found)
        pid = pending.id
    with sessions() as session:
        assert _refused(lambda: seal_takeouts.take_out(session, KEEPER, found.seal, found.carrier)).code == \
            "no_takeout_approval"
    with sessions() as session, session.begin():
        approvals.decide(session, LEADER, pending.approval_id, "approve")
    with sessions() as session:
        wrong = _refused(lambda: seal_takeouts.take_out(session, KEEPER, found.seal, found.other))
        assert wrong.code == "no_takeout_approval" and "is for Zhao Lei, not this person" in wrong.message
        assert _refused(lambda: seal_takeouts.bring_back(session, KEEPER, found.seal)).code == "illegal_transition"
    with sessions() as session, session.begin():
        trip = seal_takeouts.take_out(session, KEEPER, found.seal, found.carrier)
        assert trip.id == pid and seal_takeouts.state(trip) == "out"
    with sessions() as session:
        assert _refused(lambda: seal_takeouts.take_out(session, KEEPER, found.seal, found.carrier)).code == \
            "illegal_transition"
        assert _refused(lambda: seals.step(session, KEEPER, found.seal, "suspend", "R-1")).code == "seal_out"
    with sessions() as session, session.begin():
        back = seal_takeouts.bring_back(session, KEEPER, found.seal)
        assert seal_takeouts.state(back) == "returned" and back.returned_by == KEEPER.name
    with sessions() as session:  # one approved request is one trip
        assert _refused(lambda: seal_takeouts.take_out(session, KEEPER, found.seal, found.carrier)).code == \
            "no_takeout_approval"
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "seal_takeout",
                                                                  AuditEntry.entity_id == str(pid))
                                  .order_by(AuditEntry.id)).all()
        assert actions[-2:] == ["seal.takeout", "seal.return"]  # the take-out's row, with its whole state


def test_an_overdue_seal_is_listed_until_it_is_back(sessions: Any, found: Office) -> None:
    tid = approved_takeout(sessions, found, hours=2)
    with sessions() as session, session.begin():
        seal_takeouts.take_out(session, KEEPER, found.seal, found.carrier)
    later = datetime.now(UTC) + timedelta(hours=3)
    with sessions() as session:
        assert seal_takeouts.overdue(session) == []
        late = seal_takeouts.overdue(session, now=later)
        assert [t.id for t in late] == [tid] and seal_takeouts.state(late[0], later) == "overdue"
        assert [t.id for t in session.scalars(seal_takeouts.listing("overdue", now=later))] == [tid]
    make_overdue(sessions, tid)  # three hours pass
    with sessions() as session:
        assert [t.id for t in seal_takeouts.overdue(session)] == [tid]
    with sessions() as session, session.begin():
        back = seal_takeouts.bring_back(session, KEEPER, found.seal)
        assert seal_takeouts.state(back) == "returned"
    with sessions() as session:
        assert seal_takeouts.overdue(session) == []
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "seal.return")).one()
        assert entry.after["late"] is True


def test_an_expired_approval_does_not_let_the_seal_out(sessions: Any, found: Office) -> None:
    approved_takeout(sessions, found, hours=1)
    with sessions() as session:
        refused = _refused(lambda: seal_takeouts.take_out(session, KEEPER, found.seal, found.carrier,
                                                          at=datetime.now(UTC) + timedelta(hours=2)))
        assert refused.code == "no_takeout_approval" and "ended at" in refused.message


@pytest.mark.parametrize(("hours", "field", "code"), [(-1, "due_at", "bad_due"), (24 * 31, "due_at", "bad_due")])
def test_takeout_request_bad_due(sessions: Any, found: Office, hours: float, field: str, code: str) -> None:
    with sessions() as session:
        refused = _refused(lambda: takeout_request(session, found, hours))
        assert (refused.code, refused.params["field"]) == (code, field)


def test_takeout_of_a_suspended_seal_is_refused(sessions: Any, found: Office) -> None:
    approved_takeout(sessions, found)
    with sessions() as session, session.begin():
        seals.step(session, KEEPER, found.seal, "suspend", "FIN-13")
    with sessions() as session:
        refused = _refused(lambda: seal_takeouts.take_out(session, KEEPER, found.seal, found.carrier))
        assert refused.code == "illegal_transition" and "only a seal in service can be taken out" in refused.message


# --- the register ---

def test_register_by_seal_department_and_period_as_csv_and_pdf(app: Any, sessions: Any, found: Office,
                                                               tmp_path: Path) -> None:
    rid = approved_use(sessions, found.seal, copies=4)
    with sessions() as session, session.begin():
        seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 3))
        other = seal_uses.submit(session, CLERK, seal_uses.UseRequestIn(
            found.seal, "=HYPERLINK(\"http://x\")", 1, "@bank <b>&</b>", "-loan", "Office"), LIMIT)
        approvals.grant(session, Actor("system", "cli"), "leader", "leader", "Office")
        approvals.decide(session, LEADER, other.approval_id, "approve")
        seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(other.id, 1))
    today = datetime.now(UTC).astimezone().date()
    with app.test_request_context(headers={"Accept-Language": "zh"}), sessions() as session:
        everything = seal_register.build(session, seal_register.Filters(seal=found.seal), "Asia/Shanghai")
        assert [(r.department, r.copies, r.approved_by) for r in everything.rows] == [("Finance", 3, "leader"),
                                                                                       ("Office", 1, "leader")]
        finance = seal_register.build(session, seal_register.Filters(department="Finance"), "Asia/Shanghai")
        assert len(finance.rows) == 1 and finance.copies == 3
        none = seal_register.build(session, seal_register.Filters(until=today - timedelta(days=3)), "Asia/Shanghai")
        assert none.rows == []
        assert _refused(lambda: seal_register.build(session, seal_register.Filters(
            since=today, until=today - timedelta(days=1)), "Asia/Shanghai")).code == "bad_period"
        text = seal_register.csv_file(session, KEEPER, everything).decode("utf-8-sig")
        assert "'=HYPERLINK" in text and "'@bank" in text and "'-loan" in text and "用印申请" in text
        pdf = seal_register.pdf_file(session, KEEPER, everything, "县财政局", datetime.now(UTC))
        session.commit()
    assert pdf.startswith(b"%PDF")
    (tmp_path / "register.pdf").write_bytes(pdf)
    shown = subprocess.run(["pdftotext", "-layout", str(tmp_path / "register.pdf"), "-"], capture_output=True,
                           text=True, check=True).stdout
    assert "县财政局用印登记簿" in shown.replace(" ", "") and "Budget report 2027" in shown
    assert "<b>&</b>" in shown  # escaped, not read as markup
    with sessions() as session:
        assert session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "seal_register")).all() == [
            "seal.register_export", "seal.register_print"]


def test_a_register_too_long_to_print_is_refused(app: Any, sessions: Any, found: Office,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    rid = approved_use(sessions, found.seal, copies=2)
    with sessions() as session, session.begin():
        seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 1))
        seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 1))
    monkeypatch.setattr(seal_register, "MAX_PDF_ROWS", 1)
    with app.test_request_context(), sessions() as session:
        register = seal_register.build(session, seal_register.Filters(), "Asia/Shanghai")
        refused = _refused(lambda: seal_register.pdf_file(session, KEEPER, register, "Org", datetime.now(UTC)))
        assert refused.code == "too_many_rows" and "more than 1 uses to print" in refused.message


def test_concurrent_uses_never_stamp_more_than_approved(sessions: Any, found: Office) -> None:
    """Six uses of 2 copies at once on a request approved for 7: exactly three go through."""
    rid = approved_use(sessions, found.seal, copies=7)
    results: list[str] = []
    barrier = threading.Barrier(6)

    def stamp() -> None:
        barrier.wait()
        for _attempt in range(50):  # SQLite answers a busy writer with an error: try again, as a client would
            try:
                with sessions() as session, session.begin():
                    seal_uses.record_use(session, KEEPER, found.seal, seal_uses.UseIn(rid, 2))
                results.append("ok")
                return
            except RuleViolation as exc:
                results.append(exc.code)
                return
            except Exception as exc:  # noqa: BLE001  database busy: retry
                if "locked" not in str(exc) and "busy" not in str(exc).lower():
                    raise

    threads = [threading.Thread(target=stamp) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["copies_exceeded"] * 3 + ["ok"] * 3
    with sessions() as session:
        assert seal_uses.stamped(session, rid) == 6
