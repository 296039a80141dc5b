"""What the check finds: one report, with a bounded list of findings (table, row, field, what differs)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from server.i18n import N_

# Problems, as msgids: the web page translates them, the CLI prints them as they are.
LINK = N_("link to the previous row is wrong (row removed or inserted)")
EDITED = N_("content does not match its hash (row edited)")
UNKNOWN_KEY = N_("the row names an audit key that is not configured (a key was dropped, or the row is forged)")
LEGACY_AFTER_KEYED = N_("an unkeyed row after the keyed chain began (row forged without the key)")
TRUNCATED = N_("the newest rows of the audit log are missing (fewer rows than a checkpoint saw)")
CHECKPOINT_DIFFERS = N_("the audit log differs from a checkpoint taken earlier (history rewritten)")
CHECKPOINT_FORGED = N_("a checkpoint's signature does not match (the checkpoint file was edited)")
LEDGER_DIFFERS = N_("the ledger differs from what the audit log describes")
FIELD_DIFFERS = N_("the field differs from the newest audit row of this record")
NOT_IN_LOG = N_("the record is in no audit row (written behind the application's back)")
DELETED = N_("the record is missing: the audit log says it exists (deleted behind the application's back)")
STILL_THERE = N_("the record exists: the audit log says it was deleted")
NOT_DESCRIBED = N_("the audit row does not describe this field")
ROW_MISSING = N_("the row is missing: its audit row describes it (deleted behind the application's back)")
ROW_EXTRA = N_("the row is described by no audit row (inserted behind the application's back)")
BASELINE_MISSING = N_("rows from before the keyed chain are in no baseline (run assetgate audit baseline)")
BASELINE_DIFFERS = N_("rows from before the keyed chain changed since their baseline")

MAX_TEXT = 200  # a value shown in a finding is cut here


def shown(value: Any) -> str:
    if value is None:
        return "∅"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


@dataclass(frozen=True)
class Finding:
    table: str
    row: str
    field: str
    found: str
    expected: str
    audit_row: int | None
    problem: str


@dataclass
class Report:
    rows: int = 0  # audit rows checked
    broken_at: int | None = None  # id of the first audit row that does not fit the chain
    problem: str = ""
    legacy_rows: int = 0  # audit rows from before the keyed chain (plain SHA-256)
    head: int | None = None  # id of the newest audit row
    checkpoints_checked: int = 0
    ledger_rows: int = 0  # ledger rows compared with the audit log
    legacy_described: int = 0  # ledger records whose newest description is a legacy row (not compared)
    seconds: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    findings_omitted: int = 0
    limit: int = field(default=100, repr=False)

    @property
    def ok(self) -> bool:
        return not self.problem and not self.findings and not self.findings_omitted

    def add(self, finding: Finding) -> None:
        if not self.problem:
            self.problem = finding.problem if finding.problem in CHAIN_PROBLEMS else LEDGER_DIFFERS
        if len(self.findings) < self.limit:
            self.findings.append(finding)
        else:
            self.findings_omitted += 1

    def as_dict(self) -> dict[str, Any]:
        """What a page or a JSON answer shows (``limit`` is a setting of the check, not a result)."""
        return {"ok": self.ok, "rows": self.rows, "broken_at": self.broken_at, "problem": self.problem,
                "legacy_rows": self.legacy_rows, "head": self.head, "checkpoints_checked": self.checkpoints_checked,
                "ledger_rows": self.ledger_rows, "legacy_described": self.legacy_described,
                "seconds": round(self.seconds, 2),
                "findings": [f.__dict__ for f in self.findings], "findings_omitted": self.findings_omitted}


CHAIN_PROBLEMS = frozenset({LINK, EDITED, UNKNOWN_KEY, LEGACY_AFTER_KEYED, TRUNCATED, CHECKPOINT_DIFFERS,
                            CHECKPOINT_FORGED})
