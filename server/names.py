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


def role(code: object) -> str:
    return _name(ROLES, code)


def kiosk_mode(code: object) -> str:
    return _name(KIOSK_MODES, code)


JOB_STATES = {
    "queued": N_("Waiting to start"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
}

JOB_KINDS = {
    "labels": N_("Label PDF"),
    "plan_check": N_("Checking a procurement plan"),
    "plan_import": N_("Importing a procurement plan"),
}


def job_state(code: object) -> str:
    return _name(JOB_STATES, code)


def job_kind(code: object) -> str:
    return _name(JOB_KINDS, code)
