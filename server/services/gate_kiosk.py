"""What a gate kiosk needs to work offline, added to its retained config (PROTOCOL.md section 2).

* ``revoked_passes``: revoked passes still inside their window, refused on the spot;
* ``expected_visitors``: today's valid pre-registered passes with the sign-in data the kiosk sends
  back when one is scanned (so one scan signs the visitor in);
* ``on_site``: who the server knows to be on site, for the kiosk's roll call when the server is away;
* ``vehicles`` and ``dispatches``: official vehicles (A- tag -> plate) and their dispatches of the next
  day, so the vehicle step fills in a plate from a scanned key tag and can tell an offline guard whether a
  dispatch covers now (services.vehicle_gate);
* ``watchlist_salt`` and ``watchlist``: the watchlist as salted, stretched hashes
  (``contract.normalize.watch_hash``), never names or plates; ``watchlist_digest`` changes when it does.

The retained config is readable only by its kiosk (broker ACL); it still holds today's visitors'
names, which a gate must be able to show during an evacuation. The consumer republishes a config
when it changed (``kiosk_config_refresh_s``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from server.models import PassStatus, utcnow
from server.personal import policy
from server.services import vehicle_gate, visitors, visits, watchlist


def extras(session: Session, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    salt, hashes = watchlist.kiosk_hashes(session)
    return {
        **vehicle_gate.kiosk_extras(session, now),
        "revoked_passes": visitors.revoked_codes(session, now),
        "expected_visitors": _expected(session, now),
        "on_site": [{"pass": v.code, "name": v.name, "organisation": v.organisation, "host": v.host_code,
                     "host_name": v.host_name, "plate": v.plate, "since": v.since.isoformat()}
                    for v in visits.on_site(session)],
        "watchlist_salt": salt,
        "watchlist": hashes,
        "watchlist_digest": hashlib.sha256("\n".join(hashes).encode()).hexdigest()[:16] if hashes else None,
    }


def _expected(session: Session, now: datetime) -> dict[str, dict[str, Any]]:
    vault = policy(session).vault
    out: dict[str, dict[str, Any]] = {}
    for row in visitors.expected(session, now):
        if row.status != PassStatus.VALID:
            continue  # waiting for approval: the kiosk sends it on, the server refuses it
        data: dict[str, Any] = {"name": vault.open(row.name_enc) or "", "host": row.host.code}
        for key, value in (("organisation", vault.open(row.organisation_enc)), ("purpose", row.purpose),
                           ("plate", vault.open(row.plate_enc))):
            if value:
                data[key] = value
        out[row.code] = data
    return out
