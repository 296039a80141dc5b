"""REST: enrolling and revoking kiosks (admin), through the same service as the pages and the CLI.

Enrolment answers with the kiosk's config bundle (a zip holding its broker password, made in
memory and never stored): save the body to a file. The fleet and rejected log are in admin.py.
"""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, current_app, g, jsonify
from pydantic import Field

from server import broker, settings_of
from server.api import Body, accepts, bp
from server.auth import roles
from server.models import utcnow
from server.services import kiosks as kiosk_service


class KioskIn(Body):
    name: str = Field(min_length=1, max_length=32, description="The kiosk id: 1 to 32 of a-z, 0-9 and '-'.")
    mode: Literal["gate", "storeroom"] = Field(description="gate or storeroom")
    location: str | None = Field(None, max_length=300, description="L- code of where the kiosk stands.")


def _broker_files() -> str:
    """Rewrite the broker's password and ACL files after a committed change."""
    return broker.sync(g.db, settings_of(current_app))


@bp.post("/kiosks")
@roles()
@accepts(KioskIn)
def enrol_kiosk(body: KioskIn) -> Any:
    """Enrol a kiosk; the answer is its config bundle (application/zip), offered this once."""
    settings = settings_of(current_app)
    kiosk, password = kiosk_service.enroll(g.db, g.actor, body.name, body.mode, body.location,
                                           kiosk_service.reserved_names(settings))
    bundle = broker.bundle_zip(settings, kiosk, password)
    g.db.commit()
    return Response(bundle, status=201, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="kiosk-{kiosk.name}.zip"', "X-Broker-Files": _broker_files()})


@bp.post("/kiosks/<name>/revoke")
@roles()
def revoke_kiosk(name: str) -> Any:
    """Revoke a kiosk: its broker login goes at once and its events are refused from now on."""
    kiosk = kiosk_service.revoke(g.db, g.actor, name, utcnow())
    g.db.commit()
    return jsonify(kiosk=kiosk.name, revoked_at=kiosk.revoked_at.isoformat() if kiosk.revoked_at else None,
                   broker_files=_broker_files())
