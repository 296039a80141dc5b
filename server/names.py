"""What a person reads instead of a code: statuses, procurement methods, event types, roles.

Codes stay English in the database, the API and the wire contract; these tables give each its
English name, and the catalogue gives the Chinese term of shared/GLOSSARY.md. An unknown code
is shown as it is, never hidden.
"""

from __future__ import annotations

from flask_babel import gettext

from server.i18n import N_

STATUSES = {
    "in_storage": N_("In storage"),
    "in_use": N_("In use"),
    "under_repair": N_("Under repair"),
    "disposed": N_("Disposed"),
    "lost": N_("Lost"),
}

METHODS = {
    "online_inquiry": N_("Online inquiry"),
    "self_purchase": N_("Self purchase"),
    "framework_agreement": N_("Framework agreement"),
    "public_tender": N_("Public tender"),
    "other": N_("Other"),
}

EVENTS = {
    "asset.create": N_("Registered"),
    "asset.move": N_("Moved"),
    "asset.checkout": N_("Checked out"),
    "asset.checkin": N_("Checked in"),
    "asset.repair": N_("Sent to repair"),
    "asset.repaired": N_("Back from repair"),
    "asset.maintenance": N_("Maintenance"),
    "asset.transfer": N_("Transferred"),
    "asset.custodian": N_("Custodian changed"),
    "asset.dispose": N_("Disposed"),
    "asset.exit": N_("Left through the gate"),
    "visitor.signin": N_("Visitor signed in"),
    "visitor.signout": N_("Visitor signed out"),
    "supply.pickup": N_("Supply pickup"),
    "stocktake.scan": N_("Stocktake scan"),
    "vehicle.out": N_("Vehicle out"),
    "vehicle.in": N_("Vehicle in"),
}

# The life-cycle actions by their code in ``services.assets.ALLOWED_FROM``: buttons and refusals.
ACTIONS = {
    "move": N_("Move"),
    "checkout": N_("Check out"),
    "checkin": N_("Check in"),
    "repair": N_("Send to repair"),
    "repaired": N_("Back from repair"),
    "maintenance": N_("Record maintenance"),
    "transfer": N_("Transfer"),
    "custodian": N_("Change custodian"),
    "dispose": N_("Dispose"),
}

DISPOSAL_REASONS = {
    "scrapped": N_("Scrapped"),
    "sold": N_("Sold"),
    "lost": N_("Lost"),
    "transferred_out": N_("Transferred out"),
}

LOCATION_KINDS = {
    "storeroom": N_("Storeroom"),
    "office": N_("Office"),
    "gate": N_("Gate"),
    "shelf": N_("Shelf"),
    "bin": N_("Bin"),
    "meeting_room": N_("Meeting room"),
    "site": N_("Site"),
    "other": N_("Other"),
}

# Where a change came from (``Actor.source``); "kiosk:<name>" is shown with the kiosk's name.
SOURCES = {
    "web": N_("Web"),
    "api": N_("API"),
    "cli": N_("Command line"),
    "kiosk": N_("Kiosk"),
}

ROLES = {
    "admin": N_("Admin"),
    "storekeeper": N_("Storekeeper"),
    "guard": N_("Guard"),
    "auditor": N_("Auditor"),
}

KIOSK_MODES = {
    "storeroom": N_("Storeroom"),
    "gate": N_("Gate"),
}


def _name(table: dict[str, str], code: object) -> str:
    key = str(code)
    return gettext(table[key]) if key in table else key


def status(code: object) -> str:
    return _name(STATUSES, code)


def method(code: object) -> str:
    return _name(METHODS, code)


def event(code: object) -> str:
    return _name(EVENTS, code)


def action(code: object) -> str:
    return _name(ACTIONS, code)


def disposal_reason(code: object) -> str:
    return _name(DISPOSAL_REASONS, code)


def location_kind(code: object) -> str:
    return _name(LOCATION_KINDS, code)


def source(code: object) -> str:
    kind, _, name = str(code).partition(":")
    return f"{_name(SOURCES, kind)} {name}".strip() if kind in SOURCES else str(code)


def role(code: object) -> str:
    return _name(ROLES, code)


def kiosk_mode(code: object) -> str:
    return _name(KIOSK_MODES, code)
