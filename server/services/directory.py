"""Reference data every other service points at: categories, locations and people."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from contract import codes
from server import audit, names
from server.audit import Actor
from server.errors import AlreadyExists, Invalid, NotFound, Term
from server.i18n import N_
from server.models import Category, Location, Person
from server.services import codes as code_service
from server.services import lookup

LOCATION_KINDS = ("storeroom", "office", "gate", "shelf", "bin", "meeting_room", "site", "other")


def _clean_name(name: str, what: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise Invalid(N_("%(field)s must be 1 to %(size)s characters"), code="bad_name", field=Term(what), size=200)
    return name


def get_or_create_category(session: Session, actor: Actor, name: str, controlled: bool = False,
                           supplies: bool = False) -> Category:
    """The category of that name, made (controlled, or of office supplies, as given) when there is none."""
    name = _clean_name(name, N_("category name"))
    category = session.scalars(select(Category).where(Category.name == name)).first()
    if category is None:
        category = Category(name=name, controlled=controlled, supplies=supplies)
        session.add(category)
        session.flush()
        audit.change(session, actor, "category.create", category)
    return category


def category_by_name(session: Session, name: str) -> Category:
    category = session.scalars(select(Category).where(Category.name == name)).first()
    if category is None:
        raise NotFound(N_("no category named %(name)s"), code="unknown_category", name=name[:200])
    return category


def create_location(session: Session, actor: Actor, name: str, kind: str = "office",
                    parent_code: str | None = None, code: str | None = None) -> Location:
    if kind not in LOCATION_KINDS:
        raise Invalid(N_("a location kind is one of %(kinds)s"), code="bad_kind",
                      kinds=Term(", ".join(LOCATION_KINDS), *(names.LOCATION_KINDS.get(k, k) for k in LOCATION_KINDS)))
    parent = location_by_code(session, parent_code) if parent_code else None
    code = _claim_code(session, Location, codes.Kind.LOCATION, code)
    location = Location(code=code, name=_clean_name(name, N_("location name")), kind=kind,
                        parent_id=parent.id if parent else None)
    session.add(location)
    session.flush()
    audit.change(session, actor, "location.create", location)
    return location


def location_by_code(session: Session, code: str) -> Location:
    normal = normal_code(code, codes.Kind.LOCATION)
    location = lookup.cached(session, "location", normal) or session.scalars(
        select(Location).where(Location.code == normal)).first()
    if location is None:
        raise NotFound(N_("unknown location %(location)s"), location=normal)
    return location


def create_person(session: Session, actor: Actor, name: str, department: str = "",
                  code: str | None = None) -> Person:
    code = _claim_code(session, Person, codes.Kind.PERSON, code)
    person = Person(code=code, name=_clean_name(name, N_("person name")), department=(department or "").strip()[:100])
    session.add(person)
    session.flush()
    audit.change(session, actor, "person.create", person)
    return person


def person_by_code(session: Session, code: str) -> Person:
    normal = normal_code(code, codes.Kind.PERSON)
    person = lookup.cached(session, "person", normal) or session.scalars(
        select(Person).where(Person.code == normal)).first()
    if person is None or not person.active:
        raise NotFound(N_("unknown person %(person)s"), person=normal)
    return person


def _claim_code(session: Session, model: type[Location] | type[Person], kind: codes.Kind, given: str | None) -> str:
    """A newly issued code, or a given one (labels or badges printed before) if no row holds it."""
    if not given:
        return code_service.issue(session, kind)[0]
    code = code_service.register(session, normal_code(given, kind))
    if session.scalars(select(model.id).where(model.code == code)).first():
        raise AlreadyExists(N_("the code %(text)s is taken already"), text=code)
    return code


# Why a text is not the code wanted, by the reason ``contract.codes`` gives (in the reader's language).
CODE_ERRORS = {
    "bad_code": N_("%(text)s is not an AssetGate code"),
    "bad_check": N_("the check symbol of %(text)s is wrong: a character was misread or mistyped"),
}
WRONG_KIND = {
    codes.Kind.PERSON: N_("%(text)s is not a person's badge code"),
    codes.Kind.LOCATION: N_("%(text)s is not a location code"),
    codes.Kind.SUPPLY: N_("%(text)s is not a supply item code"),
}


def _normal(code: str, kind: codes.Kind) -> str:
    try:
        return codes.normalize(code, kind)
    except codes.CodeError as exc:
        template = WRONG_KIND[kind] if exc.reason == "wrong_kind" and kind in WRONG_KIND else CODE_ERRORS.get(
            exc.reason, CODE_ERRORS["bad_code"])
        raise Invalid(template, code=exc.reason, text=(code or "").strip()[:64]) from None


def normal_code(code: str, kind: codes.Kind) -> str:
    """``code`` in its normal form, or a refusal that says why in the reader's language."""
    return _normal(code, kind)


def set_email(session: Session, actor: Actor, code: str, email: str | None) -> Person:
    """Where a person is told of their visitors' arrival (services.notify); None: not by email."""
    person = person_by_code(session, code)
    email = (email or "").strip() or None
    if email is not None and (len(email) > 200 or "@" not in email or any(ch.isspace() for ch in email)):
        raise Invalid(N_("%(email)s is not an email address"), code="bad_email", email=email[:60])
    before = audit.state(person)
    person.email = email
    audit.change(session, actor, "person.email", person, before)
    return person
