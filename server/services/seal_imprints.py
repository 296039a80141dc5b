"""A seal's imprint (印模) as an image: checked, re-encoded and kept in the database.

An upload is refused, with the reason, when it is empty, larger than ``MAX_BYTES``, not a PNG or
JPEG by its own first bytes (whatever its name or declared type says), larger than ``MAX_SIDE``
pixels a side or ``MAX_PIXELS`` in all (checked from the header, before the pixels are decoded: a
small file can claim a huge picture), or damaged. What is kept is not the upload but a PNG drawn
again from its pixels: metadata (EXIF, text chunks, GPS), anything appended after the image and any
other content the file smuggled are gone, so what is served back is only ever a PNG picture.
Imprints are rows of their own, never overwritten; the newest is the seal's current one. They live
in the database (not the instance folder), so no path is ever built from input and a backup of the
database holds them.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from server import audit
from server.audit import Actor
from server.errors import IllegalTransition, Invalid, NotFound
from server.i18n import N_
from server.models import Seal, SealEvent, SealImprint, SealStatus
from server.services import seals

MAX_BYTES = 1024 * 1024
MAX_SIDE = 4000
MAX_PIXELS = 8_000_000
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG"}
CONTENT_TYPE = "image/png"


def _kind_of(data: bytes) -> str | None:
    return next((kind for magic, kind in SIGNATURES.items() if data.startswith(magic)), None)


def clean(data: bytes) -> tuple[bytes, int, int]:
    """The upload checked and drawn again as a PNG: (png, width, height), or Invalid with the reason."""
    if not data:
        raise Invalid(N_("the imprint file is empty"), code="imprint_empty", field="imprint")
    if len(data) > MAX_BYTES:
        raise Invalid(N_("the imprint image is %(size)s KB; at most %(most)s KB is accepted"),
                      code="imprint_too_large", field="imprint", size=-(-len(data) // 1024), most=MAX_BYTES // 1024)
    declared = _kind_of(data)
    if declared is None:
        raise Invalid(N_("the imprint must be a PNG or JPEG image"), code="imprint_not_image", field="imprint")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data), formats=[declared])
            width, height = picture.size
            if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
                raise Invalid(N_("the imprint image is %(width)s × %(height)s pixels; at most %(most)s a side and "
                                 "%(pixels)s in all"), code="imprint_too_large", field="imprint", width=width,
                              height=height, most=MAX_SIDE, pixels=MAX_PIXELS)
            picture.load()
            mode = "RGBA" if picture.mode in ("RGBA", "LA", "P", "PA") else "RGB"
            out = io.BytesIO()
            picture.convert(mode).save(out, format="PNG")
    except Invalid:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise Invalid(N_("the imprint image is damaged or cannot be read"), code="imprint_unreadable",
                      field="imprint") from None
    return out.getvalue(), width, height


def upload(session: Session, actor: Actor, code: str, data: bytes) -> SealImprint:
    """A new imprint for the seal (not once it is destroyed)."""
    png, width, height = clean(data)
    seal = seals.by_code(session, code, lock=True)
    if seal.status == SealStatus.DESTROYED:
        raise IllegalTransition(N_("%(seal)s is destroyed: nothing about it can change"), seal=seal.code)
    row = SealImprint(seal_id=seal.id, data=png, sha256=hashlib.sha256(png).hexdigest(), width=width,
                      height=height, uploaded_by=actor.name)
    event = SealEvent(seal_id=seal.id, action="imprint", from_status=seal.status, to_status=seal.status,
                      actor=actor.name, source=actor.source)
    session.add_all([row, event])
    session.flush()
    # The seal is unchanged: its state goes with the new imprint, whose digest the audit row describes.
    audit.change(session, actor, "seal.imprint", seal, audit.state(seal),
                 {"imprint": row.id, "sha256": row.sha256, "width": width, "height": height, "bytes": len(png),
                  "uploaded_bytes": len(data)}, inserted=[row, event])
    return row


def current(session: Session, seal: Seal) -> SealImprint | None:
    return session.scalars(select(SealImprint).where(SealImprint.seal_id == seal.id)
                           .order_by(SealImprint.id.desc()).limit(1)).first()


def all_of(session: Session, seal: Seal) -> list[SealImprint]:
    """Every imprint of the seal, newest first (without their pixels)."""
    return list(session.scalars(select(SealImprint).options(defer(SealImprint.data))
                                .where(SealImprint.seal_id == seal.id).order_by(SealImprint.id.desc())))


def one(session: Session, seal: Seal, imprint_id: int | None) -> SealImprint:
    """The imprint asked for (None: the current one), only if it is this seal's."""
    found = current(session, seal) if imprint_id is None else session.get(SealImprint, imprint_id)
    if found is None or found.seal_id != seal.id:
        raise NotFound(N_("%(seal)s has no such imprint"), code="unknown_imprint", seal=seal.code)
    return found
