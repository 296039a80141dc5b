"""What the screen says about a server ack, in the kiosk's language.

The server's ``display`` texts are its own (English today), and kiosk and server are upgraded
separately. So the kiosk words the verdict itself, from the ack's status and reason code
(stable codes, PROTOCOL.md section 4); only a reason this kiosk does not know shows the
server's title and detail as they came.
"""

from __future__ import annotations

from dataclasses import dataclass
from gettext import NullTranslations

from contract.messages import Reason
from kiosk.i18n import N_
from kiosk.outbox import AckRecord

# Refusal reason -> (what is wrong, what the operator should do).
REFUSALS: dict[str, tuple[str, str]] = {
    Reason.BAD_JSON: (N_("unreadable message"), N_("A fault of the kiosk software; tell the admin")),
    Reason.TOO_LARGE: (N_("message too large"), N_("A fault of the kiosk software; tell the admin")),
    Reason.BAD_SCHEMA: (N_("incomplete or invalid data"), N_("Check what was entered and try again")),
    Reason.UNKNOWN_TYPE: (N_("the server does not know this action"), N_("The server is older than the kiosk; "
                                                                         "tell the admin")),
    Reason.BAD_VERSION: (N_("contract version not supported"), N_("Tell the admin")),
    Reason.BAD_CODE: (N_("not an AssetGate code"), N_("Check the QR label")),
    Reason.BAD_CHECK: (N_("check symbol wrong"), N_("Check the QR label")),
    Reason.WRONG_KIND: (N_("wrong kind of code"), N_("Check the QR label")),
    Reason.KIOSK_MISMATCH: (N_("kiosk id mismatch"), N_("The kiosk's settings are wrong; tell the admin")),
    Reason.UNKNOWN_KIOSK: (N_("the server does not know this kiosk"),
                           N_("Kept on the kiosk and sent again later; tell the admin to enrol this kiosk "
                              "or check the server address")),
    Reason.UNKNOWN_CODE: (N_("unknown code"), N_("The server has no such code; check the QR label")),
    Reason.ILLEGAL_TRANSITION: (N_("not allowed in the asset's current state"),
                                N_("Check whether the asset is in storage, in use, under repair, disposed "
                                   "or lost")),
    Reason.APPROVAL_REQUIRED: (N_("approval required"),
                               N_("A controlled item needs a purpose and an approval reference")),
    Reason.NO_EXIT_PERMIT: (N_("no exit permit"), N_("Do not let the asset out; ask for an exit permit")),
    Reason.NO_DISPATCH: (N_("no dispatch"), N_("An official vehicle leaves only with a dispatch")),
    Reason.BAD_ODOMETER: (N_("odometer reading does not fit"),
                          N_("Read the odometer again: it is lower than a reading before, or higher than one after")),
    Reason.PLATE_MISMATCH: (N_("key tag and plate do not match"),
                            N_("The key tag is another vehicle's: scan the right one or type the plate")),
    Reason.INSUFFICIENT_STOCK: (N_("not enough stock"), N_("Check the quantity taken")),
    Reason.NO_TAKEOUT_APPROVAL: (N_("seal take-out not approved"),
                                 N_("Keep the seal in the office; the carrier needs an approved take-out request")),
    Reason.ON_WATCHLIST: (N_("on the watchlist"), N_("Follow the watchlist procedure and tell the office")),
    Reason.NO_LOAN_REQUEST: (N_("no approved loan request"),
                             N_("Do not hand the volume over; the borrower asks for a loan first")),
    Reason.VOLUME_ON_LOAN: (N_("volume already lent"), N_("Scan the volume at idle first to record its return")),
    Reason.ALREADY_ON_SITE: (N_("already on site"), N_("The visitor is signed in already; scan the pass at idle "
                                                      "to sign out")),
    Reason.NOT_ON_SITE: (N_("not on site"), N_("The visitor was not signed in; check the pass")),
    Reason.PASS_EXPIRED: (N_("visitor pass expired"), N_("Ask the host to register the visit again")),
    Reason.PASS_REVOKED: (N_("visitor pass revoked"), N_("Do not let the visitor in; call the host")),
    Reason.PASS_NOT_YET_VALID: (N_("visitor pass not valid yet"), N_("Check the time of the visit with the host")),
    Reason.PASS_NOT_APPROVED: (N_("visit not approved"), N_("The visit waits for the leader in charge; call the "
                                                           "host")),
    Reason.BAD_PLATE: (N_("not a plate"), N_("Enter the plate again: letters, digits and the province character")),
    Reason.NOT_SUPPORTED: (N_("not supported by the server yet"), N_("Record it by hand and tell the admin")),
    Reason.INTERNAL: (N_("server error"), N_("Kept on the kiosk and sent again later")),
}
# Not final (PROTOCOL.md section 4): the kiosk keeps the event and sends it again.
RETRIED = frozenset({Reason.UNKNOWN_KIOSK.value, Reason.INTERNAL.value})


@dataclass(frozen=True)
class Verdict:
    title: str
    detail: str
    known: bool  # False: the server's own text, for a reason this kiosk does not know
    final_ok: bool  # accepted or duplicate: what the operator did stands


def verdict(ack: AckRecord, tr: NullTranslations) -> Verdict:
    """The screen's words for one ack; an accepted or duplicate verdict is one line (``title``)."""
    _ = tr.gettext
    if ack.status == "duplicate":
        return Verdict(_("Already saved"), "", True, True)
    if ack.status == "accepted" and ack.reason is None:
        title = _("Accepted; flagged for an admin to review") if ack.level == "warn" else _("Accepted")
        return Verdict(title, "", True, True)
    if ack.status == "accepted" and ack.reason == "conflict":
        return Verdict(_("Accepted with a conflict; an admin will review it"), "", True, True)
    if ack.status == "rejected" and ack.reason in REFUSALS:
        what, hint = REFUSALS[ack.reason]
        title = _("Waiting to send: {reason}") if ack.reason in RETRIED else _("Refused: {reason}")
        return Verdict(title.format(reason=_(what)), _(hint), True, False)
    return Verdict(ack.title, ack.detail, False, ack.status != "rejected")
