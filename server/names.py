"""What a person reads instead of a code: statuses, procurement methods, event types, roles,
kiosk refusal reasons and states, API token states.

Codes stay English in the database, the API and the wire contract; these tables give each its
English name, and the catalogue gives the Chinese term of shared/GLOSSARY.md. An unknown code
is shown as it is, never hidden.
"""

from __future__ import annotations

from server.i18n import N_, gettext

STATUSES = {
    "in_storage": N_("In storage"),
    "in_use": N_("In use"),
    "under_repair": N_("Under repair"),
    "disposed": N_("Disposed"),
    "retired": N_("Retired"),
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
    "asset.retire": N_("Retired (intake reversed)"),
    "asset.dispose": N_("Disposed"),
    "asset.exit": N_("Left through the gate"),
    "asset.return": N_("Back through the gate"),
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
    "destroyed": N_("Destroyed (archive destruction list)"),
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

APPROVAL_STATES = {
    "pending": N_("Awaiting approval"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "withdrawn": N_("Withdrawn"),
}

APPROVAL_LEVELS = {
    "leader": N_("Leader in charge"),
    "principal": N_("Principal leader"),
    "archive_manager": N_("Archive manager"),
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
    "no_dispatch": N_("No dispatch"),
    "bad_odometer": N_("Odometer reading does not fit"),
    "plate_mismatch": N_("Tag and plate do not match"),
    "bad_plate": N_("Not a plate"),
    "no_loan_request": N_("No approved loan request"),
    "volume_on_loan": N_("Volume already lent"),
    "no_takeout_approval": N_("Seal taken out without an approved take-out"),
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
    "reversal": N_("Receipt reversal"),
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


# The gate (issue 12).
PASS_STATUSES = {
    "valid": N_("Valid"),
    "pending_approval": N_("Awaiting approval"),
    "rejected": N_("Not approved"),
    "revoked": N_("Voided"),
}

PASS_KINDS = {
    "preregistered": N_("Pre-registration"),
    "walk_in": N_("Walk-in"),
}

SIGNOUT_KINDS = {
    "signout": N_("Signed out"),
    "automatic": N_("Automatic sign-out"),
}

GATE_ALERTS = {
    "watchlist_hit": N_("Watchlist"),
    "refused_exit": N_("Exit refused: no exit permit"),
    "pass_conflict": N_("Pass signed in twice"),
    "no_dispatch": N_("Vehicle exit refused: no dispatch"),
    "vehicle_conflict": N_("Vehicle at the gate: conflict"),
}

PERMIT_STATES = {
    "valid": N_("Valid"),
    "used": N_("Used up"),
    "out": N_("On loan, out"),
    "returned": N_("Returned"),
    "expired": N_("Expired"),
    "revoked": N_("Voided"),
}

# Why the gate refused something (the reason codes of the contract), as the desk says it.
GATE_REASONS = {
    "already_on_site": N_("Already on site"),
    "not_on_site": N_("Not on site"),
    "pass_expired": N_("Pass expired"),
    "pass_revoked": N_("Pass revoked"),
    "pass_not_yet_valid": N_("Pass not valid yet"),
    "pass_not_approved": N_("Pass not approved"),
    "on_watchlist": N_("On the watchlist"),
    "no_exit_permit": N_("No exit permit"),
    "no_dispatch": N_("No dispatch"),
    "bad_odometer": N_("Odometer reading does not fit"),
    "plate_mismatch": N_("Tag and plate do not match"),
    "unknown_code": N_("Unknown code"),
}


# Official vehicles (issue 14).
FUELS = {
    "petrol": N_("Petrol"),
    "diesel": N_("Diesel"),
    "hybrid": N_("Hybrid"),
    "electric": N_("Electric"),
}

URGENCIES = {
    "normal": N_("Normal"),
    "urgent": N_("Urgent"),
}

BOOKING_STATES = {
    "pending": N_("Awaiting approval"),
    "rejected": N_("Rejected"),
    "withdrawn": N_("Withdrawn"),
    "approved": N_("Approved, to dispatch"),
    "dispatched": N_("Dispatched"),
    "cancelled": N_("Cancelled"),
}

COST_KINDS = {
    "fuel": N_("Fuel"),
    "tolls": N_("Tolls"),
    "parking": N_("Parking"),
    "maintenance": N_("Maintenance"),
}

PASSAGE_KINDS = {
    "official": N_("Official vehicle"),
    "visitor": N_("Visitor's vehicle"),
    "unknown": N_("Unknown vehicle"),
}

DIRECTIONS = {
    "out": N_("Out"),
    "in": N_("In"),
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
    "audit_verify": N_("Checking the audit log"),
}


def job_state(code: object) -> str:
    return _name(JOB_STATES, code)


def job_kind(code: object) -> str:
    return _name(JOB_KINDS, code)
def pass_status(code: object) -> str:
    return _name(PASS_STATUSES, code)


def pass_kind(code: object) -> str:
    return _name(PASS_KINDS, code)


def signout_kind(code: object) -> str:
    return _name(SIGNOUT_KINDS, code)


def gate_alert(code: object) -> str:
    return _name(GATE_ALERTS, code)


def permit_state(code: object) -> str:
    return _name(PERMIT_STATES, code)


def gate_reason(code: object) -> str:
    return _name(GATE_REASONS, code)


def movement_kind(code: object) -> str:
    return _name(MOVEMENT_KINDS, code)


def stocktake_class(code: object) -> str:
    return _name(STOCKTAKE_CLASSES, code)


def resolution(code: object) -> str:
    return _name(RESOLUTIONS, code)


def fuel(code: object) -> str:
    return _name(FUELS, code)


def urgency(code: object) -> str:
    return _name(URGENCIES, code)


def booking_state(code: object) -> str:
    return _name(BOOKING_STATES, code)


def cost_kind(code: object) -> str:
    return _name(COST_KINDS, code)


def passage_kind(code: object) -> str:
    return _name(PASSAGE_KINDS, code)


def direction(code: object) -> str:
    return _name(DIRECTIONS, code)
# Archives (issue 14; services.archives, archive_loans, archive_destruction).
VOLUME_KINDS = {
    "volume": N_("Volume"),
    "file": N_("File"),
}

RETENTIONS = {
    "permanent": N_("Permanent"),
    "30y": N_("30 years"),
    "10y": N_("10 years"),
}

CONFIDENTIALITY = {
    "public": N_("Public"),
    "internal": N_("Internal"),
    "secret": N_("Secret"),
    "confidential": N_("Confidential"),
    "top_secret": N_("Top secret"),
}

LOAN_STATES = {
    "pending": N_("Awaiting approval"),
    "approved": N_("Approved, not lent yet"),
    "out": N_("Lent"),
    "overdue": N_("Overdue"),
    "returned": N_("Returned"),
    "expired": N_("Expired, not lent"),
    "rejected": N_("Rejected"),
    "withdrawn": N_("Withdrawn"),
}

DESTRUCTION_STATES = {
    "pending": N_("Awaiting approval"),
    "approved": N_("Approved, not destroyed yet"),
    "destroyed": N_("Destroyed"),
    "rejected": N_("Rejected"),
    "withdrawn": N_("Withdrawn"),
}

# Why a lending or return made at a kiosk off line is a conflict (``services.archive_conflicts``).
ARCHIVE_CONFLICTS = {
    "no_loan_request": N_("Lent off line without an approved loan request"),
    "volume_on_loan": N_("Lent off line while out on another loan"),
    "not_on_loan": N_("Returned off line while not out on loan"),
}


def volume_kind(code: object) -> str:
    return _name(VOLUME_KINDS, code)


def retention(code: object) -> str:
    return _name(RETENTIONS, code)


def confidentiality(code: object) -> str:
    return _name(CONFIDENTIALITY, code)


def loan_state(code: object) -> str:
    return _name(LOAN_STATES, code)


def destruction_state(code: object) -> str:
    return _name(DESTRUCTION_STATES, code)


def archive_conflict(code: object) -> str:
    return _name(ARCHIVE_CONFLICTS, code)


# Seals (issue 14): kinds, life-cycle states and steps, take-out states, as the glossary names them.
SEAL_KINDS = {
    "official": N_("Official seal"),
    "contract": N_("Contract seal"),
    "finance": N_("Finance seal"),
    "department": N_("Department seal"),
}

SEAL_STATUSES = {
    "made": N_("Made"),
    "in_use": N_("In service"),
    "suspended": N_("Suspended"),
    "recalled": N_("Recalled"),
    "destroyed": N_("Destroyed"),
}

# The steps of a seal's life (``services.seals.STEPS``) and the other things its history records.
SEAL_ACTIONS = {
    "register": N_("Registered (made)"),
    "enable": N_("Put into service"),
    "suspend": N_("Suspend"),
    "recall": N_("Recall"),
    "destroy": N_("Destroy"),
    "custodian": N_("Custodian changed"),
    "imprint": N_("Imprint uploaded"),
    "remake": N_("Re-made, replacing another seal"),
    "replaced": N_("Replaced by a re-made seal"),
}

TAKEOUT_STATES = {
    "pending": N_("Awaiting approval"),
    "rejected": N_("Rejected"),
    "withdrawn": N_("Withdrawn"),
    "approved": N_("Approved, not taken out"),
    "out": N_("Out of the office"),
    "overdue": N_("Overdue"),
    "returned": N_("Returned"),
}


def seal_kind(code: object) -> str:
    return _name(SEAL_KINDS, code)


def seal_status(code: object) -> str:
    return _name(SEAL_STATUSES, code)


def seal_action(code: object) -> str:
    return _name(SEAL_ACTIONS, code)


def takeout_state(code: object) -> str:
    return _name(TAKEOUT_STATES, code)
