"""What a person reads instead of a code: statuses, procurement methods, event types, roles,
kiosk refusal reasons and states, API token states.

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

APPROVAL_STATES = {
    "pending": N_("Awaiting approval"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "withdrawn": N_("Withdrawn"),
}

APPROVAL_LEVELS = {
    "leader": N_("Leader in charge"),
    "principal": N_("Principal leader"),
}

DECISIONS = {
    "approve": N_("Approved"),
    "reject": N_("Rejected"),
}

# Why the server refused a kiosk message (contract.messages.Reason and the ack's reason codes).
REASONS = {
    "bad_json": N_("Unreadable message"),
    "too_large": N_("Message too large"),
    "bad_schema": N_("Incomplete or invalid data"),
    "unknown_type": N_("Action unknown to the server"),
    "bad_version": N_("Contract version not supported"),
    "bad_code": N_("Not an AssetGate code"),
    "bad_check": N_("Check symbol wrong"),
    "wrong_kind": N_("Wrong kind of code"),
    "kiosk_mismatch": N_("Kiosk id mismatch"),
    "unknown_kiosk": N_("Kiosk not enrolled"),
    "unknown_code": N_("Unknown code"),
    "illegal_transition": N_("Not allowed in the asset's current state"),
    "approval_required": N_("Approval required"),
    "no_exit_permit": N_("No exit permit"),
    "insufficient_stock": N_("Not enough stock"),
    "on_watchlist": N_("On the watchlist"),
    "not_supported": N_("Not supported by the server yet"),
    "internal_error": N_("Server error"),
}

KIOSK_STATES = {
    "online": N_("Online"),
    "offline": N_("Offline"),
    "unknown": N_("Not reported yet"),
    "revoked": N_("Revoked"),
}

TOKEN_STATES = {
    "active": N_("Active"),
    "expired": N_("Expired"),
    "revoked": N_("Revoked"),
}

MOVEMENT_KINDS = {
    "receipt": N_("Receipt"),
    "pickup": N_("Pickup"),
    "return": N_("Return"),
    "adjustment": N_("Adjustment"),
    "stocktake": N_("Stocktake difference"),
}

STOCKTAKE_CLASSES = {
    "found_in_place": N_("Found in place"),
    "found_elsewhere": N_("Found elsewhere"),
    "missing": N_("Missing"),
    "unexpected": N_("Unexpected"),
    "unknown": N_("Unknown code"),
    "disposed_seen": N_("Disposed item seen"),
}

RESOLUTIONS = {
    "move": N_("Move the record to where it was seen"),
    "lost": N_("Mark lost"),
    "correct": N_("Correct the location"),
    "ignore": N_("Ignore"),
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


def approval_state(code: object) -> str:
    return _name(APPROVAL_STATES, code)


def approval_level(code: object) -> str:
    return _name(APPROVAL_LEVELS, code)


def decision(code: object) -> str:
    return _name(DECISIONS, code)


def reason(code: object) -> str:
    return _name(REASONS, code)


def kiosk_state(code: object) -> str:
    return _name(KIOSK_STATES, code)


def token_state(code: object) -> str:
    return _name(TOKEN_STATES, code)
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


def movement_kind(code: object) -> str:
    return _name(MOVEMENT_KINDS, code)


def stocktake_class(code: object) -> str:
    return _name(STOCKTAKE_CLASSES, code)


def resolution(code: object) -> str:
    return _name(RESOLUTIONS, code)
