"""What the caller hands in (Label) and gets back (RenderResult), and the one error type."""

from __future__ import annotations

from dataclasses import dataclass


class LabelError(ValueError):
    """A label batch that cannot be rendered; the message says what to fix."""


@dataclass(frozen=True, slots=True)
class Label:
    """One label's content. A blank label (a freshly issued code not yet bound) has only ``code``."""

    code: str
    name: str = ""
    org: str = ""
    category: str | None = None
    year: int | None = None


@dataclass(frozen=True, slots=True)
class RenderResult:
    labels: int
    pages: int
