"""What the screen shows after one input, for every workflow and step (``kiosk.workflows``,
``kiosk.vehicle_step``): a level, a title, a detail, and the ids of the events recorded."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Outcome:
    """What the screen shows after one input: level ok|warn|error|info|pending, and the events made."""

    level: str
    title: str
    detail: str = ""
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"level": self.level, "title": self.title, "detail": self.detail, "events": list(self.events)}


def refused(title: str, detail: str = "") -> Outcome:
    return Outcome("error", title, detail)
