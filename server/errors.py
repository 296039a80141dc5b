"""Errors of the domain services. Each carries a stable code (the same codes as the
kiosk acks' reasons) and the HTTP status the REST API answers with; the web, the
API and the MQTT consumer all translate these, none invents its own.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class NotFound(DomainError):
    code = "unknown_code"
    status = 404


class Invalid(DomainError):
    code = "invalid"
    status = 422


class AlreadyExists(DomainError):
    code = "already_exists"
    status = 409


class IllegalTransition(DomainError):
    code = "illegal_transition"
    status = 409


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class RuleViolation(DomainError):
    """A purchase, intake or life-cycle action that breaks a rule of the plan or the ledger.

    ``code`` names the rule (e.g. ``quantity_exceeded``); the message says by how much.
    """

    code = "rule_violation"
    status = 422
