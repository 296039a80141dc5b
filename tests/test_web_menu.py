"""The main menu (server/web/nav.py): each role's sections and entries, exactly; the section of the page
shown is open and its entry marked; a misspelt section fails at start-up. Service-level: the menu as
nav builds it, and three pages rendered to see it in the layout."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from server import auth
from server.audit import SYSTEM
from server.auth import allowed_roles
from server.web import nav

ASSETS = ["assets.index", "labels.page"]
STOREROOM = ["supplies.index", "supplies.conflicts", "requisitions.index", "requisitions.reorder",
             "stocktakes.index"]
OFFICE = ["vehicles.index", "bookings.index", "trips.index", "archives.index", "seals.index"]
# What each role's menu holds, section by section, in order ("": the links at the top).
MENUS: dict[str, dict[str, list[str]]] = {
    "admin": {
        "": ["dashboard.index", "reports.index"],
        "assets": ASSETS,
        "procurement": ["requests.index", "procurement.plans", "procurement.intake_new"],
        "gate": ["gate.desk", "gate.preregister", "gate.visitors", "gate.permits", "gate.watchlist_page",
                 "trips.passages"],
        "storeroom": STOREROOM,
        "office": ["vehicles.index", "bookings.index", "bookings.board", "trips.index", "archives.index",
                   "seals.index"],
        "system": ["requests.approvers", "departments.index", "kiosks.index", "audit.index", "users.index"],
    },
    "storekeeper": {
        "": ["dashboard.index", "reports.index"],
        "assets": ASSETS,
        "procurement": ["requests.index", "procurement.plans", "procurement.intake_new"],
        "gate": ["gate.preregister", "gate.permits"],
        "storeroom": STOREROOM,
        "office": ["vehicles.index", "bookings.index", "bookings.board", "trips.index", "archives.index",
                   "seals.index"],
        "system": ["departments.index"],
    },
    "guard": {
        "": ["dashboard.index"],
        "assets": ["assets.index"],
        "procurement": ["requests.index"],
        "gate": ["gate.desk", "gate.preregister", "gate.visitors", "gate.permits", "trips.passages"],
        "storeroom": STOREROOM,
        "office": [entry for entry in OFFICE if entry != "archives.index"],  # archives are not a guard's
    },
    "auditor": {
        "": ["dashboard.index", "reports.index"],
        "assets": ["assets.index"],
        "procurement": ["requests.index", "procurement.plans"],
        "gate": ["gate.permits", "trips.passages"],
        "storeroom": STOREROOM,
        "office": OFFICE,
        "system": ["departments.index", "kiosks.index", "audit.index"],
    },
}
SECTION_NAMES = {"zh": ["", "资产", "采购", "门岗", "库房", "办公登记", "系统与审计"],
                 "en": ["", "Assets", "Procurement", "Gate", "Storeroom", "Office register", "System and audit"]}


def test_each_roles_menu_is_exactly_its_entries(app: Any) -> None:
    every = app.extensions["assetgate.menu"]
    for role, expected in MENUS.items():
        for language in ("zh", "en"):
            with app.test_request_context("/", headers={"Accept-Language": language}):
                menu = nav.menu_for(role)
            assert {group.key: [entry.endpoint for entry in group.entries] for group in menu} == expected, role
            assert [group.key for group in menu] == list(expected)  # sections in their order
            if role == "admin":
                assert [group.label for group in menu] == SECTION_NAMES[language]
            assert not any(group.open for group in menu)
        # Nothing is offered that the view refuses, and nothing the role may open is left out.
        shown = {entry.endpoint for group in menu for entry in group.entries}
        assert shown == {item.endpoint for item in every
                         if role in (allowed_roles(app.view_functions[item.endpoint]) or ())}
    assert len(every) == sum(len(entries) for entries in MENUS["admin"].values())  # admin sees every entry


def _side_menu(client: Any, path: str) -> tuple[list[str], list[tuple[str, str]]]:
    """(open sections, [(aria-current, entry)]) of the side menu on a page."""
    response = client.get(path)
    assert response.status_code == 200, path
    found = re.search(r'<nav class="side"[^>]*>(.*?)</nav>', response.get_data(as_text=True), re.S)
    assert found
    menu = found.group(1)
    return (re.findall(r"<details open><summary[^>]*>([^<]+)</summary>", menu),
            re.findall(r'aria-current="(\w+)">([^<]+)</a>', menu))


def test_the_page_opens_its_section_and_marks_its_entry(client: Any, sessions: Any) -> None:
    with sessions() as session, session.begin():
        auth.create_user(session, SYSTEM, "boss", "correct horse battery", "admin")
    client.post("/login", data={"username": "boss", "password": "correct horse battery"})
    assert _side_menu(client, "/") == ([], [("page", "首页")])  # every section closed
    assert _side_menu(client, "/trips/gate") == (["门岗"], [("page", "车辆出入记录")])  # trips, listed at the gate
    assert _side_menu(client, "/seal-requests/") == (["办公登记"], [("true", "印章")])  # under the seals
    assert _side_menu(client, "/procurement/purchases") == (["采购"], [])  # in procurement, no entry of its own


def test_a_misspelt_section_or_blueprint_fails_at_start_up() -> None:
    app = Flask(__name__)
    app.add_url_rule("/", "home", lambda: "")
    nav.add(app, [nav.MenuItem("home", "Home", "nowhere")])
    with pytest.raises(ValueError, match="no section 'nowhere'"):
        nav.set_sections(app, [nav.Section("", "")])
    app = Flask(__name__)
    app.add_url_rule("/", "home", lambda: "")
    nav.add(app, [nav.MenuItem("home", "Home", under=("sealz",))])
    with pytest.raises(ValueError, match="no blueprint 'sealz'"):
        nav.set_sections(app, [nav.Section("", "")])
