"""`assetgate demo`: a small, realistic office so a newcomer sees something real at once."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from server import auth
from server.audit import Actor
from server.models import Location, User
from server.services import assets, directory, kiosks

DEMO = Actor("demo", "cli", "admin")
CATEGORIES = [("Desktop PC", False), ("Laptop", False), ("Printer", False), ("Server", False),
              ("Network switch", False), ("Camera", False), ("Projector", False), ("Official seal", True)]
LOCATIONS = [("Main storeroom", "storeroom"), ("Director's office", "office"), ("General office", "office"),
             ("Finance office", "office"), ("Meeting room 1", "meeting_room"), ("Server room", "office"),
             ("Front gate", "gate")]
PEOPLE = [("Li Wei", "General office"), ("Zhang Min", "Finance"), ("Wang Fang", "Director's office"),
          ("Chen Jie", "IT"), ("Liu Yang", "Security")]
ASSETS = [("Lenovo ThinkCentre M70", "Desktop PC", "4899.00"), ("Dell Latitude 5440", "Laptop", "6299.00"),
          ("HP LaserJet Pro M404", "Printer", "1899.00"), ("Huawei FusionServer 2288H", "Server", "28500.00"),
          ("H3C S5130 24-port", "Network switch", "3200.00"), ("Hikvision DS-2CD", "Camera", "860.00"),
          ("Epson CB-X49", "Projector", "3999.00"), ("Office seal (round)", "Official seal", "120.00")]


def seed(session: Session, admin_password: str) -> str:
    if session.scalars(select(User).where(User.username == "admin")).first():
        return "demo data is there already; nothing added"
    for name, controlled in CATEGORIES:
        directory.get_or_create_category(session, DEMO, name, controlled)
    places = {name: directory.create_location(session, DEMO, name, kind) for name, kind in LOCATIONS}
    staff = [directory.create_person(session, DEMO, name, dept) for name, dept in PEOPLE]
    store = places["Main storeroom"]
    made = []
    for i, (name, category, price) in enumerate(ASSETS * 2):
        made.append(assets.create_asset(session, DEMO, name, category, store.code, serial=f"DEMO-{i:04d}",
                                        price=Decimal(price), acquired_on=date.today() - timedelta(days=30 * i)))
    offices = [p for p in places.values() if p.kind == "office"]
    for i, asset in enumerate(made[:6]):
        assets.move(session, DEMO, asset.code, offices[i % len(offices)].code, reason="demo: placed")
    assets.checkout(session, DEMO, made[6].code, staff[3].code, reason="demo: issued to IT")
    kiosks.enroll(session, DEMO, "store-1", "storeroom", store.code)
    kiosks.enroll(session, DEMO, "gate-1", "gate", places["Front gate"].code)
    auth.create_user(session, DEMO, "admin", admin_password, "admin")
    gate: Location = places["Front gate"]
    return (f"demo office: {len(CATEGORIES)} categories, {len(places)} locations (gate {gate.code}), "
            f"{len(staff)} staff, {len(made)} assets, kiosks store-1 and gate-1")
