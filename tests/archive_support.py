"""Shared set-up of the archive tests: classes, a shelf, volumes of each confidentiality level, people,
and the approvers of a loan's levels (archive manager, leader in charge of Finance, principal leader)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.audit import SYSTEM, Actor
from server.services import approvals, archive_loans, archives, directory
from tests.admin_support import make_user

TERMS = (7, 14, 30)
KEEPER = Actor("u-storekeeper", "web", "storekeeper")
MANAGER = Actor("archivist", "web", "auditor")
LEADER = Actor("leader", "web", "auditor")
PRINCIPAL = Actor("principal", "web", "auditor")


@dataclass(frozen=True)
class Office:
    shelf: str  # L- code
    reading_room: str  # L- code of an office (not a shelf)
    borrower: str  # P- code, Finance
    other: str  # P- code, Finance
    public: str  # A- code: a public volume of the 文书 class (30 days)
    secret: str  # A- code: a secret volume of the 人事 class (7 days, on site only when confidential)
    top: str  # A- code: a top-secret volume of the 会计 class (14 days, may be taken away)
    old: str  # A- code: a public volume of 2010 kept 10 years: past retention
    plain: str  # A- code of an ordinary asset, not a volume


def make_office(sessions: Any, *, users: bool = True) -> Office:
    if users:
        make_user(sessions, "storekeeper")
        for actor in (MANAGER, LEADER, PRINCIPAL):
            make_user(sessions, "auditor", actor.name)
    with sessions() as session, session.begin():
        if users:
            approvals.grant(session, SYSTEM, MANAGER.name, "archive_manager", "")
            approvals.grant(session, SYSTEM, LEADER.name, "leader", "Finance")
            approvals.grant(session, SYSTEM, PRINCIPAL.name, "principal", "")
        archives.create_class(session, SYSTEM, archives.ClassIn("WS", "文书档案", 30), TERMS)
        archives.create_class(session, SYSTEM, archives.ClassIn("RS", "人事档案", 7, on_site_only=True), TERMS)
        archives.create_class(session, SYSTEM, archives.ClassIn("KJ", "会计档案", 14), TERMS)
        shelf = directory.create_location(session, SYSTEM, "档案室 A 架", "shelf").code
        room = directory.create_location(session, SYSTEM, "阅览室", "office").code
        borrower = directory.create_person(session, SYSTEM, "张伟", "Finance").code
        other = directory.create_person(session, SYSTEM, "李娜", "Finance").code

        def volume(title: str, cls: str, level: str, year: int = 2024, retention: str = "30y",
                   reference: str = "") -> str:
            data = archives.VolumeIn(title, cls, year, retention, level, shelf, reference=reference)
            return archives.create_volume(session, KEEPER, data).asset.code

        directory.get_or_create_category(session, SYSTEM, "Laptop")
        from server.services import assets

        plain = assets.create_asset(session, SYSTEM, "ThinkPad", "Laptop", shelf).code
        return Office(shelf, room, borrower, other, volume("2024年度发文汇编", "WS", "public", reference="WS-2024-001"),
                      volume("干部任免材料", "RS", "secret"), volume("2024年度会计凭证", "KJ", "top_secret"),
                      volume("2010年度会议纪要", "WS", "public", 2010, "10y"), plain)


def approved_loan(sessions: Any, volume: str, borrower: str, *, on_site: bool = False,
                  purpose: str = "审计核对") -> int:
    """A loan request taken through every level its volume needs."""
    with sessions() as session, session.begin():
        loan = archive_loans.submit(session, KEEPER, archive_loans.LoanIn(volume, borrower, purpose, on_site=on_site))
        assert loan.approval is not None and loan.approval_id is not None  # a request has its chain
        loan_id, approval_id, levels = loan.id, loan.approval_id, loan.approval.level_list
    deciders = {"archive_manager": MANAGER, "leader": LEADER, "principal": PRINCIPAL}
    for level in levels:
        with sessions() as session, session.begin():
            approvals.decide(session, deciders[level], approval_id, "approve")
    return loan_id
