"""The gate's rules as services (no broker): passes, sign in and out, watchlist, exit permits,
automatic sign-out, encryption at rest, retention and key rotation, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, text

from contract import normalize
from server import create_app
from server.audit import SYSTEM
from server.errors import DomainError
from server.models import AuditEntry, GateAlert, Notification, Person, Visit, VisitorPass, utcnow
from server.services import assets, directory, exit_permits, gate_alerts, retention, visitors, visits, watchlist
from server.services.visitors import VisitorIn
from server.services.visits import Origin
from tests.gate_support import ADMIN, GUARD, office, preregister, shift


def OFFICE_TODAY() -> date:  # noqa: N802 (reads like the constant it stands for)
    """Today where the office is (Asia/Shanghai): loans are due on the office's days."""
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


@pytest.fixture
def place(sessions: Any) -> dict[str, str]:
    return office(sessions)


def _refused(sessions: Any, call: Any) -> DomainError:
    with sessions() as session:
        with pytest.raises(DomainError) as caught, session.begin():
            call(session)
        return caught.value


def test_preregistered_pass_signs_in_and_out_and_is_on_site_between(sessions: Any, place: dict[str, str]) -> None:
    code = preregister(sessions, place["host"], "王芳", organisation="市财政局", plate="京A·12345", purpose="会议")
    with sessions() as session, session.begin():
        out = visits.sign_in(session, GUARD, code)
        assert not out.conflict and not out.walk_in
    with sessions() as session:
        [row] = visits.on_site(session)
        assert (row.code, row.name, row.organisation, row.plate, row.host_code) == (
            code, "王芳", "市财政局", "京A12345", place["host"])
        assert visitors.expected(session) == []  # on site: no longer expected
    with sessions() as session, session.begin():
        assert visits.sign_out(session, GUARD, code).closed == 1
    with sessions() as session:
        assert visits.on_site(session) == []
        visit = session.scalars(select(Visit)).one()
        assert visit.out_kind == "signout" and visit.signed_out_at is not None


def test_refusals_say_why_and_change_nothing(sessions: Any, place: dict[str, str]) -> None:
    host = place["host"]
    later = preregister(sessions, host, start=utcnow() + timedelta(hours=2))
    over = preregister(sessions, host, hours=1)
    shift(sessions, over, timedelta(hours=-10))
    code = preregister(sessions, host)
    with sessions() as session, session.begin():
        visits.sign_in(session, GUARD, code)
    revoked = preregister(sessions, host)
    with sessions() as session, session.begin():
        visitors.revoke(session, ADMIN, revoked, "lost")
    cases = {
        later: "pass_not_yet_valid", over: "pass_expired", code: "already_on_site", revoked: "pass_revoked",
        "V-00000000": "unknown_code",
    }
    for pass_code, reason in cases.items():
        assert _refused(sessions, lambda s, c=pass_code: visits.sign_in(s, GUARD, c)).code == reason, pass_code
    assert _refused(sessions, lambda s: visits.sign_out(s, GUARD, later)).code == "not_on_site"
    assert _refused(sessions, lambda s: visits.sign_in(s, GUARD, "V-0000000X")).code == "bad_check"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 1


def test_bad_visitor_details_are_refused_by_field(sessions: Any, place: dict[str, str]) -> None:
    start = utcnow()

    def register(**fields: Any) -> Any:
        return lambda s: visitors.register(s, GUARD, VisitorIn(**{"name": "赵六", "host": place["host"], **fields}),
                                           start, start + timedelta(hours=2))

    assert _refused(sessions, register(name="   ")).code == "bad_schema"
    assert _refused(sessions, register(name="·")).code == "bad_schema"  # a separator only is no name
    assert _refused(sessions, register(name="x" * 10_000)).code == "too_long"
    assert _refused(sessions, register(organisation="y" * 10_000)).code == "too_long"
    assert _refused(sessions, register(plate="京A#1234")).code == "bad_plate"
    assert _refused(sessions, register(plate="京A12345678901234567")).code == "bad_plate"
    assert _refused(sessions, register(host="P-00000000")).code == "unknown_code"
    assert _refused(sessions, register(id_last4="123456")).code == "bad_id_last4"
    too_long = lambda s: visitors.register(s, GUARD, VisitorIn(name="a", host=place["host"]), start,  # noqa: E731
                                           start + timedelta(days=40))
    assert _refused(sessions, too_long).code == "bad_window"
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(VisitorPass)) == 0


def test_plate_and_name_normal_forms() -> None:
    assert normalize.plate("粤B·D12345") == "粤BD12345"
    assert normalize.plate(" 京ａ １２３４５ ") == "京A12345"
    assert normalize.plate("jing-a 123") == "JINGA123"
    with pytest.raises(normalize.NormalizeError):
        normalize.plate("京A😀123")
    assert normalize.person_name("張 偉") == normalize.person_name("张伟") == "张伟"
    assert normalize.person_name("ＪＯＨＮ  Smith") == normalize.person_name("john·smith") == "johnsmith"


def test_id_number_is_kept_only_as_last4_and_only_when_the_setting_asks(sessions: Any, place: dict[str, str],
                                                                       settings_overrides: dict[str, Any]) -> None:
    code = preregister(sessions, place["host"], id_last4="123x")
    with sessions() as session:
        assert visitors.view(session, visitors.pass_by_code(session, code)).id_last4 == ""  # setting off
    app = create_app({**settings_overrides, "visitor_id_last4": True})
    try:
        factory = app.extensions["assetgate.sessions"]
        kept = preregister(factory, place["host"], id_last4="123x")
        with factory() as session:
            assert visitors.view(session, visitors.pass_by_code(session, kept)).id_last4 == "123X"
    finally:
        app.extensions["assetgate.engine"].dispose()


def test_personal_fields_are_encrypted_at_rest_and_kept_out_of_the_audit_log(sessions: Any,
                                                                             place: dict[str, str]) -> None:
    code = preregister(sessions, place["host"], "欧阳娜娜", organisation="某某科技有限公司", plate="沪C88888")
    with sessions() as session, session.begin():
        visits.sign_in(session, GUARD, code)
    with sessions() as session:
        dump = " ".join(str(v) for table in ("visitor_passes", "visits", "audit_log", "notifications")
                        for row in session.execute(text(f"SELECT * FROM {table}")) for v in row)
    for secret in ("欧阳娜娜", "某某科技", "沪C88888", "C88888"):
        assert secret not in dump


def test_watchlist_matches_every_way_of_writing_and_refuses_with_an_alert(sessions: Any,
                                                                          place: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        watchlist.add(session, ADMIN, "person", "陳大文", aliases=["Chan Tai Man"], note="上访")
        watchlist.add(session, ADMIN, "plate", "粤B·D12345")
    for name, plate in (("陈大文", None), ("chan  tai man", None), ("ＣＨＡＮ·TAI·MAN", None), ("路人甲", "粤bd12345")):
        code = preregister(sessions, place["host"], name, plate=plate)
        with sessions() as session:
            with pytest.raises(gate_alerts.GateRefusal) as caught, session.begin():
                visits.sign_in(session, GUARD, code)
            assert caught.value.code == "on_watchlist"
            with session.begin():
                gate_alerts.keep(session, caught.value)  # what the web, API and consumer do after the rollback
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 0
        alerts = session.scalars(select(GateAlert)).all()
        assert [a.kind for a in alerts] == ["watchlist_hit"] * 4
        salt, hashes = watchlist.kiosk_hashes(session)
        assert normalize.watch_hash(salt, "name", normalize.person_name("陈大文")) in hashes
        assert normalize.watch_hash(salt, "plate", "粤BD12345") in hashes
        assert not any("陈" in h for h in hashes)
    clean = preregister(sessions, place["host"], "陈小文")
    with sessions() as session, session.begin():
        visits.sign_in(session, GUARD, clean)  # a similar name is no match


def test_admin_may_admit_a_watchlisted_visitor_a_guard_may_not(sessions: Any, place: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        watchlist.add(session, ADMIN, "person", "孙七")
    code = preregister(sessions, place["host"], "孙七")
    assert _refused(sessions, lambda s: visits.sign_in(s, GUARD, code, admit_watchlisted=True)).code == "forbidden"
    with sessions() as session, session.begin():
        visits.sign_in(session, ADMIN, code, admit_watchlisted=True)
    with sessions() as session:
        assert "admitted by admin-1" in session.scalars(select(GateAlert)).one().detail


def test_offline_second_signin_is_stored_as_a_conflict_live_one_is_refused(sessions: Any,
                                                                           place: dict[str, str]) -> None:
    code = preregister(sessions, place["host"])
    with sessions() as session, session.begin():
        visits.sign_in(session, GUARD, code, origin=Origin("kiosk:gate-1", "e1", kiosk=True))
    live = Origin("kiosk:gate-2", "e2", kiosk=True)
    assert _refused(sessions, lambda s: visits.sign_in(s, GUARD, code, origin=live)).code == "already_on_site"
    made_offline = utcnow() - timedelta(minutes=5)  # before the server learned of the first
    with sessions() as session, session.begin():
        out = visits.sign_in(session, GUARD, code, at=made_offline, origin=Origin("kiosk:gate-2", "e3", kiosk=True))
        assert out.conflict
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Visit)) == 2
        [row] = visits.on_site(session)
        assert row.conflict
        assert [a.kind for a in session.scalars(select(GateAlert))] == ["pass_conflict"]
    with sessions() as session, session.begin():
        assert visits.sign_out(session, GUARD, code).closed == 2


def test_a_pass_revoked_after_an_offline_signin_was_made_is_a_conflict(sessions: Any, place: dict[str, str]) -> None:
    code = preregister(sessions, place["host"])
    made = utcnow() - timedelta(minutes=3)
    with sessions() as session, session.begin():
        visitors.revoke(session, ADMIN, code, "the meeting was cancelled")
    with sessions() as session, session.begin():
        assert visits.sign_in(session, GUARD, code, at=made, origin=Origin("kiosk:gate-1", "e", kiosk=True)).conflict
    assert _refused(sessions, lambda s: visits.sign_in(s, GUARD, code)).code == "pass_revoked"


def test_walk_in_on_a_blank_pass(sessions: Any, place: dict[str, str]) -> None:
    with sessions() as session, session.begin():
        [blank] = visitors.issue_blank(session, GUARD, 1)
    details = VisitorIn(name="临时访客", host=place["host"], organisation="快递", plate="京B99999")
    with sessions() as session, session.begin():
        out = visits.sign_in(session, GUARD, blank, details=details, origin=Origin("kiosk:gate-1", "x", kiosk=True))
        assert out.walk_in and out.visitor_pass.kind == "walk_in"
    with sessions() as session:
        [row] = visits.on_site(session)
        assert (row.code, row.name, row.plate) == (blank, "临时访客", "京B99999")
        local_end = visitors.pass_by_code(session, blank).valid_until.astimezone(visits.policy(session).zone)
        assert (local_end.hour, local_end.minute) == (0, 0)  # valid to the end of the office's day


def test_approval_needed_for_configured_purposes(app: Any, settings_overrides: dict[str, Any]) -> None:
    from server import auth
    from server.services import approvals

    gated = create_app({**settings_overrides, "visit_approval_purposes": "公务接待, 参观"})
    factory = gated.extensions["assetgate.sessions"]
    try:
        place = office(factory)
        with factory() as session, session.begin():
            auth.create_user(session, SYSTEM, "leader", "long enough pw", "admin")
            approvals.grant(session, SYSTEM, "leader", "leader", "")
        code = preregister(factory, place["host"], purpose="公务接待")
        plain = preregister(factory, place["host"], purpose="送货")
        assert _refused(factory, lambda s: visits.sign_in(s, GUARD, code)).code == "pass_not_approved"
        with factory() as session, session.begin():
            visits.sign_in(session, GUARD, plain)
            visitors.decide(session, ADMIN.__class__("leader", "web", "admin"), code, "approve")
        with factory() as session, session.begin():
            visits.sign_in(session, GUARD, code)
    finally:
        gated.extensions["assetgate.engine"].dispose()


def test_automatic_signout_at_the_hour_is_recorded_as_automatic_and_a_late_real_one_replaces_it(
        sessions: Any, place: dict[str, str]) -> None:
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    now = utcnow()
    code, other = (preregister(sessions, place["host"], name, start=now, hours=14) for name in ("周八", "吴九"))
    for made in (code, other):
        shift(sessions, made, start - now)
    with sessions() as session, session.begin():
        visits.sign_in(session, GUARD, code, at=start + timedelta(hours=1))
        visits.sign_in(session, GUARD, other, at=start + timedelta(hours=1))
    evening = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
    with sessions() as session, session.begin():
        assert visits.auto_signout(session, SYSTEM, evening, hour=22) == 2
        assert visits.auto_signout(session, SYSTEM, evening, hour=22) == 0  # idempotent
    with sessions() as session:
        closed = session.scalars(select(Visit).order_by(Visit.id)).all()
        assert {v.out_kind for v in closed} == {"automatic"}
        assert closed[0].signed_out_at == datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
        assert len(visits.automatic_since(session, evening - timedelta(hours=12))) == 2
    gate_was_offline = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 17:00, reported after the cut-off
    with sessions() as session, session.begin():
        assert visits.sign_out(session, GUARD, code, at=gate_was_offline).corrected
    with sessions() as session:
        first = session.scalars(select(Visit).order_by(Visit.id)).first()
        assert first is not None and (first.out_kind, first.signed_out_at) == ("signout", gate_was_offline)


def test_exit_permit_lets_an_asset_out_once_and_a_loan_back_in(sessions: Any) -> None:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Laptop")
        laptop = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop").code
        camera = assets.create_asset(session, SYSTEM, "Camera", "Laptop").code
        permit = exit_permits.issue(session, ADMIN, exit_permits.PermitIn(
            [laptop], "送修", "张师傅", utcnow() + timedelta(hours=4), loan=True,
            expected_return=OFFICE_TODAY() + timedelta(days=3)))
        permit_id = permit.id
    with sessions() as session, session.begin():
        assert exit_permits.at_gate(session, GUARD, laptop).action == "exit"
    with sessions() as session, session.begin():
        out = exit_permits.at_gate(session, GUARD, laptop)
        assert (out.action, out.closed) == ("return", True)
    refused = _refused(sessions, lambda s: exit_permits.at_gate(s, GUARD, camera))
    assert refused.code == "no_exit_permit"
    with sessions() as session, session.begin():
        gate_alerts.keep(session, refused)
    with sessions() as session:
        assert [(a.kind, a.subject) for a in session.scalars(select(GateAlert))] == [("refused_exit", camera)]
        history = [e.type for e in assets.history(session, laptop)]
        assert history == ["asset.create", "asset.exit", "asset.return"]
        assert exit_permits.state_of(exit_permits.get(session, permit_id)) == "returned"


def test_overdue_loans_are_listed(sessions: Any) -> None:
    with sessions() as session, session.begin():
        directory.get_or_create_category(session, SYSTEM, "Projector")
        tag = assets.create_asset(session, SYSTEM, "Epson", "Projector").code
        exit_permits.issue(session, ADMIN, exit_permits.PermitIn([tag], "外借", "办公室", utcnow() + timedelta(hours=1),
                                                                  loan=True, expected_return=OFFICE_TODAY()))
        exit_permits.at_gate(session, GUARD, tag)
    with sessions() as session:
        assert exit_permits.overdue(session, OFFICE_TODAY()) == []
        [late] = exit_permits.overdue(session, OFFICE_TODAY() + timedelta(days=1))
        assert late.asset.code == tag


def test_exit_permit_input_is_checked(sessions: Any) -> None:
    soon = utcnow() + timedelta(hours=1)
    cases = [
        (exit_permits.PermitIn([], "r", "c", soon), "bad_assets"),
        (exit_permits.PermitIn(["A-00000000"], "r", "c", soon), "unknown_code"),
        (exit_permits.PermitIn(["A-00000000"], " ", "c", soon), "required"),
        (exit_permits.PermitIn(["A-00000000"], "r", "c", utcnow() - timedelta(minutes=1)), "bad_valid_until"),
        (exit_permits.PermitIn(["A-00000000"], "r", "c", soon, loan=True), "bad_expected_return"),
    ]
    for data, code in cases:
        assert _refused(sessions, lambda s, d=data: exit_permits.issue(s, ADMIN, d)).code == code


def test_purge_empties_personal_fields_after_90_days_and_deletes_records_after_two_years(
        sessions: Any, place: dict[str, str]) -> None:
    now = utcnow()

    def visit_at(days_ago: int, name: str) -> str:
        code = preregister(sessions, place["host"], name, start=now, hours=3, plate="京A11111")
        shift(sessions, code, timedelta(days=-days_ago, hours=-1))
        start = now - timedelta(days=days_ago, hours=1)
        with sessions() as session, session.begin():
            row = visitors.pass_by_code(session, code)
            visits.sign_in(session, GUARD, row.code, at=start + timedelta(minutes=5))
            visits.sign_out(session, GUARD, row.code, at=start + timedelta(hours=1))
        return row.code

    recent, old, ancient = visit_at(10, "近期"), visit_at(100, "三月前"), visit_at(800, "两年前")
    with sessions() as session, session.begin():
        dry = retention.purge(session, SYSTEM, now, dry_run=True)
        # the two-year-old visit is deleted, not emptied first; the 100-day-old one is emptied
        assert (dry.visits_anonymised, dry.passes_anonymised, dry.visits_deleted, dry.passes_deleted) == (1, 1, 1, 1)
    with sessions() as session:
        assert visitors.view(session, visitors.pass_by_code(session, old)).name == "三月前"  # dry run: untouched
        audits = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "visitors.purge"))
        assert audits == 0
    with sessions() as session, session.begin():
        real = retention.purge(session, SYSTEM, now)
        assert (real.visits_anonymised, real.passes_anonymised, real.visits_deleted, real.passes_deleted) == (
            1, 1, 1, 1)
    with sessions() as session:
        kept = visitors.view(session, visitors.pass_by_code(session, old), with_visits=True)
        assert (kept.name, kept.plate, kept.purged, len(kept.visits)) == ("", "", True, 1)
        assert visitors.view(session, visitors.pass_by_code(session, recent)).name == "近期"
        assert visitors.pass_or_none(session, ancient) is None
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "visitors.purge")) == 1
        assert session.scalars(select(VisitorPass.code).where(VisitorPass.name_index.is_not(None))).all() == [recent]


def test_key_rotation_reencrypts_everything_and_the_old_key_can_go(settings_overrides: dict[str, Any]) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()

    def app_with(keys: str) -> Any:
        return create_app({**settings_overrides, "personal_data_keys": keys})

    first = app_with(old)
    factory = first.extensions["assetgate.sessions"]
    place = office(factory)
    code = preregister(factory, place["host"], "钱十", plate="京C12345")
    with factory() as session, session.begin():
        watchlist.add(session, ADMIN, "person", "黑名单甲")
        visits.sign_in(session, GUARD, code)
    first.extensions["assetgate.engine"].dispose()

    both = app_with(f"{new},{old}")  # the new key first: new writes use it, old data still opens
    factory = both.extensions["assetgate.sessions"]
    with factory() as session, session.begin():
        report = retention.rotate(session, SYSTEM)
        assert (report.passes, report.visits, report.watchlist) == (1, 1, 1)
    both.extensions["assetgate.engine"].dispose()

    only_new = app_with(new)
    factory = only_new.extensions["assetgate.sessions"]
    try:
        with factory() as session:
            assert visitors.view(session, visitors.pass_by_code(session, code)).name == "钱十"
            assert [r.plate for r in visits.on_site(session)] == ["京C12345"]
            assert [e.label for e in watchlist.entries(session)] == ["黑名单甲"]
            # the blind indexes follow the new key: search and watchlist matching still work
            assert session.scalars(visitors.search(session, name="钱十")).one().code == code
            assert watchlist.matches(session, "黑名单甲", []) != []
    finally:
        only_new.extensions["assetgate.engine"].dispose()


def test_host_notification_is_queued_encrypted_and_never_blocks(settings_overrides: dict[str, Any]) -> None:
    app = create_app({**settings_overrides, "smtp_host": "127.0.0.1", "smtp_port": 9,
                      "gate_webhook_url": "http://127.0.0.1:9/hook"})
    factory = app.extensions["assetgate.sessions"]
    try:
        place = office(factory)
        with factory() as session, session.begin():
            session.scalars(select(Person)).one().email = "lihua@example.org"
        code = preregister(factory, place["host"], "冯十一")
        with factory() as session, session.begin():
            visits.sign_in(session, GUARD, code)
        with factory() as session:
            rows = session.scalars(select(Notification).order_by(Notification.channel)).all()
            assert [(r.channel, r.recipient) for r in rows] == [("email", "lihua@example.org"),
                                                                ("webhook", "webhook")]
            assert all("冯十一" not in (r.body_enc or "") for r in rows)
    finally:
        app.extensions["assetgate.engine"].dispose()
