"""Web UI: server-rendered pages, one blueprint per area, registered here by ``create_app``.

Each area module has ``bp`` (its blueprint) and ``MENU`` (its entries in the main menu, each under
one of ``SECTIONS``). The menu shows a person only the entries whose views admit their role, read
from the views' own ``@roles`` declarations, so the menu can never offer what the server would refuse.
"""

from __future__ import annotations

from types import ModuleType

from flask import Flask

from server.i18n import N_
from server.web import (
    archive_conflicts,
    archive_destruction,
    archive_loans,
    archives,
    assets,
    audit,
    bookings,
    codes,
    dashboard,
    departments,
    errors,
    gate,
    gate_admin,
    jobs,
    kiosks,
    labels,
    nav,
    procurement,
    procurement_corrections,
    reports,
    requests,
    requisitions,
    seal_requests,
    seals,
    session_pages,
    static,
    stocktakes,
    supplies,
    supply_admin,
    trips,
    users,
    vehicles,
)

# The menu's sections, in order (the terms of shared/GLOSSARY.md). Within a section, entries come in
# the order of AREAS; each area's MENU names the section of each of its entries.
SECTIONS: tuple[nav.Section, ...] = (
    nav.Section("", ""),  # links of their own at the top: the dashboard, the reports
    nav.Section("assets", N_("Assets")),
    nav.Section("procurement", N_("Procurement")),
    nav.Section("gate", N_("Gate")),
    nav.Section("storeroom", N_("Storeroom")),
    nav.Section("office", N_("Office register")),
    nav.Section("system", N_("System and audit")),
)

# In menu order within each section.
AREAS: tuple[ModuleType, ...] = (
    session_pages,
    dashboard,
    assets,
    requests,
    procurement,
    gate,
    vehicles,
    bookings,
    trips,
    supplies,
    requisitions,
    stocktakes,
    archives,
    archive_loans,
    archive_destruction,
    archive_conflicts,
    seals,
    seal_requests,
    labels,
    reports,
    departments,
    kiosks,
    audit,
    users,
    jobs,
    codes,
)


# Modules with pages on another area's blueprint, added to it here (not by importing them).
PARTS: tuple[tuple[ModuleType, ModuleType], ...] = (
    (gate, gate_admin),
    (procurement, procurement_corrections),
    (supplies, supply_admin),
)


def register(app: Flask) -> None:
    static.register(app)
    errors.register(app)
    for area, part in PARTS:
        part.routes.add_to(area.bp)
    for area in AREAS:
        app.register_blueprint(area.bp)
        nav.add(app, getattr(area, "MENU", ()))
    nav.set_sections(app, SECTIONS)
    nav.init_app(app)
