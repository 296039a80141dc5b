"""Errors of the domain services. Each carries a stable code (the same codes as the
kiosk acks' reasons) and the HTTP status the REST API answers with; the web, the
API and the MQTT consumer all translate these, none invents its own.

A message is an English template marked for the catalogue, with its values apart:
``RuleViolation(N_("unit price %(price)s is above the cap %(cap)s"), price=..., cap=...)``.
``message`` is the English text (logs, the consumer's rejected log); ``localized()`` is
the text in the reader's language, for the web and the API. A value that is itself a word for
the reader (a status, an action, a list of what is missing) is passed as a ``Term``.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "invalid"
    status = 400

    def __init__(self, message: str, code: str | None = None, **params: Any) -> None:
        self.template = message
        self.params = params
        self.message = message % params if params else message
        super().__init__(self.message)
        if code:
            self.code = code

    def localized(self) -> str:
        """The message in the current request's language (English outside a request)."""
        from flask_babel import gettext

        text = gettext(self.template)
        if not self.params:
            return text
        return text % {k: v.localized() if isinstance(v, Term) else v for k, v in self.params.items()}


class Term(str):
    """A value inside a message that the reader should see by its name: the English message keeps
    the code (``under_repair``, logs and tests rely on it), ``localized()`` shows the names (marked
    with ``N_``, e.g. from ``server.names``) in the reader's language, joined as a list."""

    names: tuple[str, ...]

    def __new__(cls, text: str, *names: str) -> Term:
        term = super().__new__(cls, text)
        term.names = names or (text,)
        return term

    def localized(self) -> str:
        from flask_babel import gettext

        from server.i18n import N_

        return gettext(N_(", ")).join(gettext(name) for name in self.names)


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
