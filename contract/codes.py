"""Codes printed in QR labels (PROTOCOL.md section 1).

A code is ``<KIND>-<BODY><CHECK>``: KIND one letter, BODY six or more Crockford
base32 characters, CHECK the Crockford check symbol of BODY (value mod 37).

The check symbol covers the BODY only (as the protocol says), so it catches
every single-character substitution and every adjacent transposition in
BODY+CHECK. A substituted KIND letter gives a well-formed code of another kind;
readers catch that by asking for the kind each step expects.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CHECK_ALPHABET = ALPHABET + "*~$=U"  # values 32..36 for the check symbol
MIN_BODY = 6
DEFAULT_BODY = 8  # 32**8 ~ 1.1e12 bodies: random draws practically never collide
MAX_BODY = 24

_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_SHAPE = re.compile(
    rf"^(?P<kind>[A-Z])-(?P<body>[0-9A-Z]{{{MIN_BODY},{MAX_BODY}}})(?P<check>[0-9A-Z*~$=])$"
)
_URL_TAIL = re.compile(r"/c/(?P<code>[^/?#\s]+)/?(?:[?#].*)?$", re.IGNORECASE)


class Kind(StrEnum):
    ASSET = "A"
    LOCATION = "L"
    SUPPLY = "S"
    PERSON = "P"
    VISITOR = "V"


class CodeError(ValueError):
    """A string that is not a valid code; ``reason`` is a stable protocol reason code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Code:
    kind: Kind
    body: str

    @property
    def check(self) -> str:
        return check_symbol(self.body)

    def __str__(self) -> str:
        return f"{self.kind.value}-{self.body}{self.check}"


def check_symbol(body: str) -> str:
    """Crockford check symbol of a base32 body: its value mod 37."""
    value = 0
    for ch in body:
        value = (value * 32 + _VALUE[ch]) % 37
    return CHECK_ALPHABET[value]


def new_code(kind: Kind | str, length: int = DEFAULT_BODY) -> Code:
    """A fresh random code. Uniqueness is the issuer's job (the server keeps every code it issued)."""
    if length < MIN_BODY:
        raise ValueError(f"body length must be at least {MIN_BODY}")
    body = "".join(secrets.choice(ALPHABET) for _ in range(length))
    return Code(Kind(kind), body)


def extract(text: str) -> str:
    """The code part of a scanned text: a bare code, or the tail of a ``.../c/<code>`` URL."""
    text = text.strip()
    match = _URL_TAIL.search(text)
    return match.group("code") if match else text


MAX_CODE = 2 + MAX_BODY + 1  # "A-" + body + check


def parse(text: str, expect: Kind | str | None = None) -> Code:
    """Parse a bare code or ``/c/<code>`` URL, case-insensitively, and verify its check symbol.

    Raises CodeError with reason ``bad_code`` (not a code at all), ``bad_check`` (check
    symbol wrong) or ``wrong_kind`` (a valid code of another kind than ``expect``).
    """
    raw = extract(text).upper()
    if len(raw) > MAX_CODE:  # too long to be a code: refused before it can reach the cache
        raise CodeError("bad_code", f"not an AssetGate code: {text[:64]!r}")
    return _parse_code(raw, None if expect is None else Kind(expect))


# Parsing is pure and the same few thousand codes are read over and over (every event
# names an asset and a place, every lookup normalises them again): remember the answers.
# The key is the extracted code, at most MAX_CODE characters, never the text as sent, so
# the cache cannot grow with what a caller chooses to send (65,536 entries of < 100 bytes).
@lru_cache(maxsize=65536)
def _parse_code(raw: str, expect: Kind | None) -> Code:
    match = _SHAPE.match(raw)
    if not match:
        raise CodeError("bad_code", f"not an AssetGate code: {raw[:64]!r}")
    kind_letter, body, check = match.group("kind", "body", "check")
    try:
        kind = Kind(kind_letter)
    except ValueError:
        raise CodeError("bad_code", f"unknown code kind {kind_letter!r} in {raw!r}") from None
    if any(ch not in _VALUE for ch in body):
        raise CodeError("bad_code", f"{raw!r} has a character outside Crockford base32 (I, L, O, U)")
    if check_symbol(body) != check:
        raise CodeError("bad_check", f"check symbol of {raw!r} is wrong")
    if expect is not None and kind != expect:
        raise CodeError("wrong_kind", f"{raw} is a {kind.name.lower()} code, expected {expect.name.lower()}")
    return Code(kind, body)


def normalize(text: str, expect: Kind | str | None = None) -> str:
    """The canonical (upper-case, bare) form of a valid code."""
    return str(parse(text, expect))


def is_valid(text: str, expect: Kind | str | None = None) -> bool:
    try:
        parse(text, expect)
    except CodeError:
        return False
    return True


def label_text(code: str, base_url: str | None) -> str:
    """What a label's QR holds: the bare code, or ``<base_url>/c/<code>`` when a base URL is set."""
    if not base_url:
        return code
    return f"{base_url.rstrip('/')}/c/{code}"
