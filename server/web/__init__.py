"""Web UI: server-rendered pages, one blueprint per area, registered here by ``create_app``.

Each area module has ``bp`` (its blueprint) and ``MENU`` (its entries in the main menu). The menu
shows a person only the entries whose views admit their role, read from the views' own
``@roles`` declarations, so the menu can never offer what the server would refuse.
"""

from __future__ import annotations

from types import ModuleType

from flask import Flask

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
    jobs,
    kiosks,
    labels,
    nav,
    procurement,
    reports,
    requests,
    requisitions,
    seal_requests,
    seals,
    session_pages,
    static,
    stocktakes,
    supplies,
    trips,
    users,
    vehicles,
)

# In menu order.
AREAS: tuple[ModuleType, ...] = (
    session_pages,
    dashboard,
    assets,
    procurement,
    requests,
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


def register(app: Flask) -> None:
    static.register(app)
    errors.register(app)
    for area in AREAS:
        app.register_blueprint(area.bp)
        nav.add(app, getattr(area, "MENU", ()))
    nav.init_app(app)
