"""Archives (档案): classes of records, and the volumes and files kept on the archive's shelves.

A volume (案卷) or a file (文件) is an asset of the category ``CATEGORY``: it gets an A- code (the
only code kind PROTOCOL.md section 1 has for a thing that is lent and returned), a QR label from
the labels package, a shelf (its location, an L- code) and the asset's history. The row in
``archive_volumes`` adds its class, year, retention period and confidentiality level (密级).

Retention is counted the archives' way: from the first of January after the records' year, so a
volume of 2015 kept 10 years is due on 2025-12-31 (``retention_until``). Loans are in
``archive_loans``, destruction lists in ``archive_destruction``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from contract import codes
from server import audit, names
from server.audit import Actor
from server.errors import AlreadyExists, IllegalTransition, Invalid, NotFound, Term
from server.i18n import N_
from server.models import ArchiveClass, ArchiveVolume, Asset, AssetStatus, Person, utcnow
from server.personal import policy
from server.services import assets, directory, lookup

# Who may read the archive, on the web and the API (and the admin): its keepers, and the auditors (read
# only, and the approvers: the archive manager and the leaders who decide loans hold approver grants
# on accounts of these roles). Not the gate: titles and borrowers of files are not the guards' business.
READERS = ("storekeeper", "auditor")
CATEGORY = "档案"  # the asset category of every volume and file (data, so in the office's language)
KINDS = ("volume", "file")
RETENTIONS: dict[str, int | None] = {"permanent": None, "30y": 30, "10y": 10}  # 永久, 定期30年, 定期10年
LEVELS = ("public", "internal", "secret", "confidential", "top_secret")  # 密级, lowest first
CONFIDENTIAL = frozenset({"secret", "confidential", "top_secret"})  # 涉密: higher approval, on site if the class says
SHELF_KINDS = frozenset({"shelf", "bin", "storeroom"})  # where a volume is kept (in storage while there)


def today(session: Session, now: datetime | None = None) -> date:
    """The office's date now (its time zone, from the settings the session was made with)."""
    try:
        zone: Any = policy(session).zone
    except RuntimeError:  # a bare session (tests of the services): UTC
        zone = UTC
    return (now or utcnow()).astimezone(zone).date()


def _text(value: str | None, what: str, size: int, code: str, required: bool = True) -> str:
    text = (value or "").strip()
    if (required and not text) or len(text) > size:
        raise Invalid(N_("%(what)s is required (1 to %(size)s characters)") if required else
                      N_("%(what)s is longer than %(size)s characters"), code=code, what=Term(what), size=size)
    return text


def _one_of(value: str, choices: Sequence[str], table: dict[str, str], what: str, code: str) -> str:
    if value not in choices:
        raise Invalid(N_("%(what)s must be one of %(choices)s"), code=code, what=Term(what),
                      choices=Term(", ".join(choices), *(table[c] for c in choices)))
    return value


# --- classes ---

@dataclass(frozen=True)
class ClassIn:
    code: str
    name: str
    loan_days: int
    on_site_only: bool = False  # its confidential volumes are read in the reading room only


def _check_class(data: ClassIn, terms: Sequence[int]) -> tuple[str, str]:
    code = _text(data.code, N_("class code"), 20, "bad_code").upper()
    name = _text(data.name, N_("class name"), 100, "bad_name")
    if data.loan_days not in terms:
        raise Invalid(N_("the loan term must be one of %(terms)s days"), code="bad_loan_days",
                      terms=", ".join(str(t) for t in terms))
    return code, name


def create_class(session: Session, actor: Actor, data: ClassIn, terms: Sequence[int]) -> ArchiveClass:
    """A class of records; ``terms`` are the loan terms the office allows (``archive_loan_terms``)."""
    code, name = _check_class(data, terms)
    if session.scalars(select(ArchiveClass.id).where(ArchiveClass.code == code)).first() is not None:
        raise AlreadyExists(N_("there is a class %(class)s already"), code="class_exists", **{"class": code})
    made = ArchiveClass(code=code, name=name, loan_days=data.loan_days, on_site_only=bool(data.on_site_only))
    session.add(made)
    session.flush()
    audit.change(session, actor, "archive_class.create", made)
    return made


def update_class(session: Session, actor: Actor, code: str, data: ClassIn, terms: Sequence[int]) -> ArchiveClass:
    """Change a class's name, loan term or on-site rule (its code stays); loans already asked keep their
    due dates."""
    found = class_by_code(session, code)
    _code, name = _check_class(ClassIn(found.code, data.name, data.loan_days, data.on_site_only), terms)
    before = audit.state(found)
    found.name, found.loan_days, found.on_site_only = name, data.loan_days, bool(data.on_site_only)
    found.updated_at = utcnow()
    session.flush()
    audit.change(session, actor, "archive_class.update", found, before)
    return found


def class_by_code(session: Session, code: str) -> ArchiveClass:
    found = session.scalars(select(ArchiveClass).where(ArchiveClass.code == (code or "").strip().upper()[:20])).first()
    if found is None:
        raise NotFound(N_("there is no archive class %(class)s"), code="unknown_class", **{"class": code[:20]})
    return found


def classes(session: Session) -> list[ArchiveClass]:
    return list(session.scalars(select(ArchiveClass).order_by(ArchiveClass.code)))


# --- volumes ---

@dataclass(frozen=True)
class VolumeIn:
    title: str
    class_code: str
    year: int
    retention: str  # a key of RETENTIONS
    confidentiality: str  # one of LEVELS
    shelf: str  # L- code
    kind: str = "volume"
    reference: str = ""  # 档号; empty: none
    parent: str = ""  # a file's volume (A- code); empty: none


def retention_until(year: int, retention: str) -> date | None:
    """The last day a volume of ``year`` must be kept (None: permanent)."""
    years = RETENTIONS[retention]
    return None if years is None else date(year + years, 12, 31)


def create_volume(session: Session, actor: Actor, data: VolumeIn) -> ArchiveVolume:
    """File a volume or file (归档): its A- code is issued here, its label printed from its page."""
    title = _text(data.title, N_("title"), 200, "bad_title")
    kind = _one_of(data.kind, KINDS, names.VOLUME_KINDS, N_("kind"), "bad_kind")
    retention = _one_of(data.retention, tuple(RETENTIONS), names.RETENTIONS, N_("retention period"),
                        "bad_retention")
    level = _one_of(data.confidentiality, LEVELS, names.CONFIDENTIALITY, N_("confidentiality level"),
                    "bad_confidentiality")
    if not 1900 <= data.year <= 2200:
        raise Invalid(N_("the year must be from 1900 to 2200"), code="bad_year")
    reference = _text(data.reference, N_("archive reference"), 60, "bad_reference", required=False) or None
    if reference and session.scalars(select(ArchiveVolume.asset_id)
                                     .where(ArchiveVolume.reference == reference)).first() is not None:
        raise AlreadyExists(N_("the archive reference %(reference)s is used already"), code="reference_taken",
                            reference=reference)
    archive_class = class_by_code(session, data.class_code)
    shelf = directory.location_by_code(session, data.shelf)
    if shelf.kind not in SHELF_KINDS:
        raise Invalid(N_("%(location)s (%(name)s) is not a shelf, bin or storeroom"), code="not_a_shelf",
                      location=shelf.code, name=shelf.name)
    parent = _parent(session, data.parent, kind)
    directory.get_or_create_category(session, actor, CATEGORY)
    asset = assets.create_asset(session, actor, title, CATEGORY, shelf.code)
    volume = ArchiveVolume(asset_id=asset.id, kind=kind, reference=reference, class_id=archive_class.id,
                           year=data.year, retention=retention, retention_until=retention_until(data.year, retention),
                           confidentiality=level, parent_id=parent.asset_id if parent else None)
    session.add(volume)
    session.flush()
    audit.change(session, actor, "archive_volume.create", volume, extra={"volume": asset.code})
    return volume


def _parent(session: Session, code: str, kind: str) -> ArchiveVolume | None:
    if not (code or "").strip():
        return None
    parent = volume_by_code(session, code)
    if kind != "file" or parent.kind != "volume":
        raise Invalid(N_("only a file is filed in a volume, and %(parent)s is not a volume"), code="bad_parent",
                      parent=parent.asset.code)
    return parent


PERSON_ERRORS = {
    "bad_code": N_("%(text)s is not an AssetGate code"),
    "bad_check": N_("the check symbol of %(text)s is wrong: a character was misread or mistyped"),
    "wrong_kind": N_("%(text)s is not a badge (P- code)"),
}


def borrower_by_code(session: Session, code: str) -> Person:
    """A borrower by their badge; a misread code or an unknown badge is refused in the reader's words."""
    try:
        normal = codes.normalize(code, codes.Kind.PERSON)
    except codes.CodeError as exc:
        raise Invalid(PERSON_ERRORS.get(exc.reason, PERSON_ERRORS["bad_code"]), code=exc.reason,
                      text=code.strip()[:64]) from None
    try:
        return directory.person_by_code(session, normal)
    except NotFound:
        raise NotFound(N_("nobody has the badge %(person)s"), person=normal) from None


def volume_of(session: Session, asset: Asset) -> ArchiveVolume | None:
    """The archive row of an asset, or None when the asset is not a volume or file."""
    if lookup.is_volume(session, asset.id) is False:  # a consumer batch's prefetch knows: no query
        return None
    return session.get(ArchiveVolume, asset.id)


def volume_by_code(session: Session, code: str) -> ArchiveVolume:
    """A volume or file by its A- code, to read (``volume_for_change`` to change it)."""
    found = volume_of(session, assets.asset_by_code(session, code))
    if found is None:
        raise NotFound(N_("%(asset)s is not an archive volume or file"), code="not_a_volume",
                       asset=code.strip()[:64])
    return found


def volume_for_change(session: Session, code: str) -> ArchiveVolume:
    """A volume with its asset row locked until the transaction ends (loans decide on its state)."""
    asset = assets.asset_for_change(session, code)
    found = volume_of(session, asset)
    if found is None:
        raise NotFound(N_("%(asset)s is not an archive volume or file"), code="not_a_volume", asset=asset.code)
    if asset.status == AssetStatus.DISPOSED:
        raise IllegalTransition(N_("%(asset)s was destroyed"), asset=asset.code)
    return found


def listing(session: Session, class_code: str | None = None, confidentiality: str | None = None,
            search: str | None = None) -> Select[Any]:
    """Volumes and files for keyset pages by asset id; filters validated."""
    query = select(ArchiveVolume).join(Asset, ArchiveVolume.asset_id == Asset.id)
    if class_code:
        query = query.where(ArchiveVolume.class_id == class_by_code(session, class_code).id)
    if confidentiality:
        query = query.where(ArchiveVolume.confidentiality == _one_of(
            confidentiality[:20], LEVELS, names.CONFIDENTIALITY, N_("confidentiality level"), "bad_confidentiality"))
    if search:
        text = search.strip()[:100]
        query = query.where(Asset.name.contains(text, autoescape=True) | (ArchiveVolume.reference == text))
    return query


def extend_retention(session: Session, actor: Actor, code: str, retention: str, reason: str) -> ArchiveVolume:
    """The result of an appraisal (鉴定) that keeps a volume longer: the period only grows."""
    why = _text(reason, N_("reason"), 1000, "reason_required")
    volume = volume_for_change(session, code)
    _one_of(retention, tuple(RETENTIONS), names.RETENTIONS, N_("retention period"), "bad_retention")
    old, new = RETENTIONS[volume.retention], RETENTIONS[retention]
    if new is not None and (old is None or new <= old):
        raise Invalid(N_("a retention period can only be made longer: %(asset)s is kept %(retention)s"),
                      code="bad_retention", asset=volume.asset.code,
                      retention=Term(volume.retention, names.RETENTIONS[volume.retention]))
    before = audit.state(volume)
    volume.retention, volume.retention_until = retention, retention_until(volume.year, retention)
    session.flush()
    audit.change(session, actor, "archive_volume.retention", volume, before,
                 {"volume": volume.asset.code, "reason": why})
    return volume


def _kept(query: Select[Any]) -> Select[Any]:
    return query.join(Asset, ArchiveVolume.asset_id == Asset.id).where(Asset.status != AssetStatus.DISPOSED.value)


def past_retention(session: Session, on: date) -> list[ArchiveVolume]:
    """Volumes still kept whose retention period ended before ``on``: to appraise, keep or destroy."""
    query = _kept(select(ArchiveVolume).where(ArchiveVolume.retention_until < on))
    return list(session.scalars(query.order_by(ArchiveVolume.retention_until, ArchiveVolume.asset_id).limit(5000)))


def due_for_review(session: Session, on: date, within_days: int) -> list[ArchiveVolume]:
    """Volumes whose retention period ends within ``within_days`` of ``on``, or has ended."""
    horizon = on + timedelta(days=within_days)
    query = _kept(select(ArchiveVolume).where(ArchiveVolume.retention_until <= horizon))
    return list(session.scalars(query.order_by(ArchiveVolume.retention_until, ArchiveVolume.asset_id).limit(5000)))
