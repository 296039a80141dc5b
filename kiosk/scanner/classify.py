"""Turn decoded texts into scans: only valid AssetGate codes become a ``Scan``.

A label's QR holds a bare code or a ``.../c/<code>`` URL (PROTOCOL.md section 1). The
check symbol is verified here, before anything reaches the agent, because a misread
that passes as a real code would be recorded against the wrong asset; a miss only
makes the person hold the label a moment longer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from contract import codes

RejectReason = Literal["not_ours", "bad_check"]
NOT_OURS: RejectReason = "not_ours"
BAD_CHECK: RejectReason = "bad_check"


@dataclass(frozen=True, slots=True)
class Scan:
    """A valid AssetGate code: ``code`` is canonical (upper-case, bare), ``raw`` as read."""

    code: str
    raw: str

    @property
    def kind(self) -> codes.Kind:
        return codes.Kind(self.code[0])


@dataclass(frozen=True, slots=True)
class Rejected:
    """A text that is not a usable code.

    ``not_ours``: some other QR (a URL, a Wi-Fi code, a foreign asset tag); ``bad_check``:
    shaped like our code but its check symbol is wrong (a damaged or forged label).
    """

    raw: str
    reason: RejectReason
    detail: str = ""


Classified = Scan | Rejected


def classify(text: str) -> Classified:
    try:
        code = codes.parse(text)
    except codes.CodeError as exc:
        reason: RejectReason = BAD_CHECK if exc.reason == "bad_check" else NOT_OURS
        return Rejected(text, reason, str(exc))
    return Scan(str(code), text)


def hold_off_key(item: Classified) -> str:
    """What counts as "the same code" for the hold-off: a bare code and its URL are the same."""
    return item.code if isinstance(item, Scan) else f"{item.reason}:{item.raw}"
