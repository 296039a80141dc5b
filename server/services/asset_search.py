"""Finding assets among a million: a search box, filters, whitelisted sort keys and keyset pages.

The web's asset list and ``GET /api/v1/assets`` both call ``search``. What keeps it fast:

- A scanned or typed code, or an exact serial number, is found through its unique index and
  goes straight to that asset (``resolve``); a location or person code filters by it.
- Every sort key has an index ending in the id (``models.Asset.__table_args__``), and a page
  starts where the last one ended (keyset), so page 1,000 costs what page 1 does.
- Sorting by category or location sorts by their names through a join; the extra range
  condition on the name lets PostgreSQL start the join at the cursor's name.
- Keys that may be empty (location, acquisition date, price) page in two runs: the rows with a
  value, then those without (by id), so no row is lost to NULL comparisons. Rows without a
  value come last in either direction.
- Names: three characters or more are searched anywhere in the name (ILIKE, which the trigram
  GIN index of PostgreSQL answers); one or two characters match the start of the name, since
  no trigram index can narrow a shorter fragment. SQLite scans (fine at an office's size).
- No COUNT over the table: a page knows only whether another follows. ``count`` counts up to a
  cap for the API's ``total``.
- Statements are made once per shape (which filters, which sort, first page or not) with their
  values bound at each call (``_statement``): building a statement and working out SQLAlchemy's
  cache key for it cost more CPU than PostgreSQL's answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from contract import codes
from server.errors import Invalid, NotFound
from server.i18n import N_
from server.models import Asset, AssetStatus, Category, Location, Person
from server.services.assets import CODE_ERRORS
from server.services.paging import Page, decode_cursor, encode_cursor

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
COUNT_CAP = 10_000
MAX_QUERY = 200  # characters of the search box; a longer text is no name, code or serial
CONTAINS_FROM = 3  # a fragment this long is searched anywhere in the name, a shorter one at its start
GROUPED_FROM = 50_000  # matches above which a sort by category or location goes group by group
GROUP_BATCH = 50  # groups read at a time


@dataclass(frozen=True)
class Filters:
    """What to look for; every field is optional. ``q``: a code, a serial number or part of a name."""

    q: str = ""
    status: str | None = None
    category: str | None = None  # category name
    location: str | None = None  # L- code
    custodian: str | None = None  # P- code
    name: str = ""  # part of a name only (a caller that has ``resolve``d its text already)


@dataclass(frozen=True)
class SortKey:
    value: Any  # the column sorted on
    empty: ColumnElement[bool] | None = None  # the rows without a value (sorted last), if it may be empty
    join: Any = None  # the table the value comes from (its name), joined for the first run
    group: Any = None  # with ``join``: the asset's column that points at it
    unique: bool = False  # the value alone orders the rows (no id needed)

    def columns(self) -> list[Any]:
        """The ORDER BY and the cursor: the value, for a joined table its id (names may repeat), the asset's id."""
        if self.unique:
            return [self.value]
        return [self.value, self.join.id, Asset.id] if self.join is not None else [self.value, Asset.id]


SORT_KEYS: dict[str, SortKey] = {
    "code": SortKey(Asset.code, unique=True),
    "name": SortKey(Asset.name),
    "status": SortKey(Asset.status),
    "category": SortKey(Category.name, join=Category, group=Asset.category_id),
    "location": SortKey(Location.name, empty=Asset.location_id.is_(None), join=Location, group=Asset.location_id),
    "acquired": SortKey(Asset.acquired_on, empty=Asset.acquired_on.is_(None)),
    "price": SortKey(Asset.price, empty=Asset.price.is_(None)),
}
STATUSES = tuple(s.value for s in AssetStatus)


@dataclass(frozen=True)
class Match:
    """What a search text names exactly: an asset (by code or serial), a location or a person."""

    kind: str  # "asset", "location" or "person"
    code: str
    id: int


def resolve(session: Session, text: str) -> Match | None:
    """The item a scanned or typed code, or an asset's exact serial number, names; None otherwise.
    A code with a wrong check symbol is refused (it was misread), never searched as a name."""
    text = (text or "").strip()
    if not text or len(text) > MAX_QUERY:
        return None
    try:
        parsed = codes.parse(text)
    except codes.CodeError as exc:
        if exc.reason == "bad_check":
            raise Invalid(CODE_ERRORS["bad_check"], code="bad_check", text=text[:64]) from None
        return _by_serial(session, text)
    models: dict[codes.Kind, tuple[type[Asset] | type[Location] | type[Person], str]] = {
        codes.Kind.ASSET: (Asset, "asset"), codes.Kind.LOCATION: (Location, "location"),
        codes.Kind.PERSON: (Person, "person")}
    if parsed.kind not in models:
        raise Invalid(N_("%(text)s is not the code of an asset, a location or a person"), code="wrong_kind",
                      text=text[:64])
    model, kind = models[parsed.kind]
    code = str(parsed)
    found = session.scalars(_statement(("id by code", kind), lambda: select(model.id).where(
        model.code == bindparam("code"))), {"code": code}).first()
    if found is None:
        raise NotFound(N_("nothing has the code %(text)s"), code="unknown_code", text=code)
    return Match(kind, code, found)


_BY_SERIAL = select(Asset.id, Asset.code).where(Asset.serial == bindparam("serial"))


def _by_serial(session: Session, text: str) -> Match | None:
    row = session.execute(_BY_SERIAL, {"serial": text}).first()
    return Match("asset", row.code, row.id) if row else None


def search(session: Session, filters: Filters = Filters(), sort: str = "code", descending: bool = False,
           cursor: str | None = None, limit: int = DEFAULT_LIMIT, offset: int = 0) -> Page[Asset]:
    """One page of the assets that match ``filters``, ordered by ``sort`` (a key of ``SORT_KEYS``),
    starting after ``cursor`` (the ``next_cursor`` of the page before). ``offset`` is the old way
    of paging, kept for API clients: it walks the skipped rows, so it is slow far in."""
    key = _sort_key(sort)
    _check_limit(limit)
    if offset and (cursor or key.empty is not None):
        raise Invalid(N_("offset works only on a first page sorted by code, name, status or category; "
                         "page on with the cursor instead"), code="bad_offset")
    where = _where(session, filters)
    width = len(key.columns())
    after = _checked(decode_cursor(cursor, width), key)
    rows: list[tuple[Asset, tuple[Any, ...]]] = []
    if after is None or after[0] is not None:  # the run of rows that have a value
        if key.join is not None and not offset and _dense(session, where, key):
            rows = _by_group(session, key, where, after, descending, limit + 1)
        else:
            rows = _seek(session, where, sort, after, descending, limit + 1, offset)
        after = None
    if key.empty is not None and len(rows) <= limit:  # then the rows without one, by id
        more = _seek(session, where, sort, (after[-1],) if after is not None else None, descending,
                     limit + 1 - len(rows), empty=True)
        rows += [(asset, (*[None] * (width - 1), *values)) for asset, values in more]
    next_cursor = encode_cursor(rows[limit - 1][1]) if len(rows) > limit else None
    return Page([asset for asset, _ in rows[:limit]], next_cursor)


def count(session: Session, filters: Filters = Filters(), cap: int = COUNT_CAP) -> tuple[int, bool]:
    """How many assets match, counted up to ``cap``: (count, exact). Never a full COUNT of the table."""
    where = _where(session, filters)
    stmt = _statement(("count", where.shape), lambda: select(func.count()).select_from(
        select(Asset.id).where(*where.clauses()).limit(bindparam("cap")).subquery()))
    found = session.scalar(stmt, {**where.values, "cap": cap + 1}) or 0
    return min(found, cap), found <= cap


# Each condition once, its value bound when it runs.
_CLAUSES: dict[str, ColumnElement[bool]] = {
    "status": Asset.status == bindparam("status"),
    "category": Asset.category_id == bindparam("category_id"),
    "location": Asset.location_id == bindparam("location_id"),
    "custodian": Asset.custodian_id == bindparam("custodian_id"),
    "q name": Asset.name.ilike(bindparam("q_like"), escape="\\"),
    "q location": Asset.location_id == bindparam("q_id"),
    "q person": Asset.custodian_id == bindparam("q_id"),
    "q asset": Asset.id == bindparam("q_id"),
    "name": Asset.name.ilike(bindparam("name_like"), escape="\\"),
}


@dataclass(frozen=True)
class Where:
    """The conditions of some filters: which (``shape``, names in ``_CLAUSES``) and their values."""

    shape: tuple[str, ...]
    values: dict[str, Any]

    def clauses(self) -> list[ColumnElement[bool]]:
        return [_CLAUSES[name] for name in self.shape]


def conditions(session: Session, filters: Filters) -> list[ColumnElement[bool]]:
    """The WHERE conditions of ``filters`` with their values in them (see ``_where``)."""
    where = _where(session, filters)
    return [clause.params(where.values) for clause in where.clauses()]


def _where(session: Session, filters: Filters) -> Where:
    """The conditions of ``filters``, each checked: a wrong value is a clear error, never an empty
    list that looks like "no such assets"."""
    shape: list[str] = []
    values: dict[str, Any] = {}
    if filters.status:
        if filters.status not in STATUSES:
            raise Invalid(N_("there is no status %(status)s; the statuses are %(statuses)s"), code="bad_filter",
                          status=filters.status[:40], statuses=", ".join(STATUSES))
        shape.append("status")
        values["status"] = filters.status
    if filters.category:
        category = session.scalars(_CATEGORY_ID, {"name": filters.category}).first()
        if category is None:
            raise NotFound(N_("there is no category named %(name)s"), code="unknown_category",
                           name=filters.category[:100])
        shape.append("category")
        values["category_id"] = category
    if filters.location:
        shape.append("location")
        values["location_id"] = location(session, filters.location).id
    if filters.custodian:
        shape.append("custodian")
        values["custodian_id"] = person(session, filters.custodian).id
    text, name = (filters.q or "").strip(), (filters.name or "").strip()
    if len(text) > MAX_QUERY or len(name) > MAX_QUERY:
        raise Invalid(N_("the search text is longer than %(size)s characters"), code="bad_filter", size=MAX_QUERY)
    if text:
        match = resolve(session, text)
        if match is None:
            shape.append("q name")
            values["q_like"] = _like_pattern(text)
        else:
            shape.append(f"q {match.kind}")
            values["q_id"] = match.id
    if name:
        shape.append("name")
        values["name_like"] = _like_pattern(name)
    return Where(tuple(shape), values)


_CATEGORY_ID = select(Category.id).where(Category.name == bindparam("name"))
_STATEMENTS: dict[Any, Any] = {}  # shape -> statement made once (a few hundred shapes at most)


def _statement(shape: Any, make: Callable[[], Any]) -> Any:
    """The statement of ``shape``, made by ``make`` the first time."""
    found = _STATEMENTS.get(shape)
    if found is None:
        if len(_STATEMENTS) > 4000:  # cannot happen with the fixed sorts and filters; a bound all the same
            _STATEMENTS.clear()
        found = _STATEMENTS[shape] = make()
    return found


def _like_pattern(text: str) -> str:
    plain = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{plain}%" if len(text) >= CONTAINS_FROM else f"{plain}%"


def location(session: Session, text: str) -> Location:
    """The location an L- code (bare or URL form) names, with a clear error for a wrong or unknown code."""
    found = _by_code(session, Location, codes.Kind.LOCATION, text)
    assert isinstance(found, Location)
    return found


def person(session: Session, text: str) -> Person:
    """The person a P- code names, also one no longer active (who may still hold assets)."""
    found = _by_code(session, Person, codes.Kind.PERSON, text)
    assert isinstance(found, Person)
    return found


def _by_code(session: Session, model: type[Location] | type[Person], kind: codes.Kind, text: str) -> Location | Person:
    try:
        code = codes.normalize(text, kind)
    except codes.CodeError as exc:
        what = {codes.Kind.LOCATION: N_("%(text)s is not a location code"),
                codes.Kind.PERSON: N_("%(text)s is not a person code")}[kind]
        if exc.reason == "bad_check":
            what = CODE_ERRORS["bad_check"]
        raise Invalid(what, code="bad_check" if exc.reason == "bad_check" else "bad_filter",
                      text=text.strip()[:64]) from None
    found: Location | Person | None = session.scalars(_statement(("by code", kind), lambda: select(model).where(
        model.code == bindparam("code"))), {"code": code}).first()
    if found is None:
        raise NotFound(N_("nothing has the code %(text)s"), code="unknown_code", text=code)
    return found


def _sort_key(sort: str) -> SortKey:
    key = SORT_KEYS.get(sort)
    if key is None:
        raise Invalid(N_("cannot sort by %(sort)s; the sort keys are %(keys)s"), code="bad_sort",
                      sort=str(sort)[:40], keys=", ".join(SORT_KEYS))
    return key


def _check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise Invalid(N_("a page holds 1 to %(max)s assets"), code="bad_limit", max=MAX_LIMIT)


def _checked(after: tuple[Any, ...] | None, key: SortKey) -> tuple[Any, ...] | None:
    """A cursor's values must be of the types of its sort key's columns, or (the run of rows without
    a value) None and then the asset's id: a forged cursor must not reach the database (a 500)."""
    if after is None:
        return None
    if after[0] is None and key.empty is not None:
        fits = all(value is None for value in after[:-1]) and _is(after[-1], int)
    else:
        fits = all(_is(value, column.type.python_type) for value, column in zip(after, key.columns(), strict=True))
    if not fits:
        raise Invalid(N_("the page cursor is not valid; start from the first page"))
    return after


def _is(value: Any, kind: type) -> bool:
    if isinstance(value, bool) or (kind is date and isinstance(value, datetime)):
        return False
    return isinstance(value, kind)


def _dense(session: Session, where: Where, key: SortKey) -> bool:
    """Whether more than ``GROUPED_FROM`` assets match: then ``_by_group`` sorts them by the joined
    name; fewer are joined and sorted at once. PostgreSQL's estimate decides (a count would read
    them all); SQLite counts, up to the limit."""
    query = _statement(("dense", where.shape, key.group.key), lambda: select(Asset.id).where(
        *where.clauses(), key.group.is_not(None)))
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        compiled = _statement(("dense sql", dialect.driver, where.shape, key.group.key),
                              lambda: query.compile(dialect=dialect))
        plan: Any = session.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}",
                                                         compiled.construct_params(where.values)).scalar()
        return int(plan[0]["Plan"]["Plan Rows"]) > GROUPED_FROM
    capped = _statement(("dense count", where.shape, key.group.key), lambda: select(func.count()).select_from(
        query.limit(bindparam("cap")).subquery()))
    return (session.scalar(capped, {**where.values, "cap": GROUPED_FROM + 1}) or 0) > GROUPED_FROM


def _by_group(session: Session, key: SortKey, where: Where, after: tuple[Any, ...] | None,
              descending: bool, size: int) -> list[tuple[Asset, tuple[Any, ...]]]:
    """Rows ordered by a joined table's name, its id, then the asset's id: group by group.

    Joining a million assets to their categories and sorting them all for one page took 0.6 s
    (locations: 1.7 s). Here the groups (categories or locations) are read in name order and each
    group's next assets come through the (group, id) index, until the page is full: a few small
    queries when many assets match. Same order, same cursor as ``_seek``. (Tried and dropped: a
    LATERAL join, where PostgreSQL sorted every group's rows anyway, and with a filter read the
    filter's whole bitmap once per location: 9 s; batches of groups joined at once, where four
    categories are 260,000 rows to sort.)"""
    table = key.join
    rows: list[tuple[Asset, tuple[Any, ...]]] = []
    start, inclusive = ((after[0], after[1]), True) if after is not None else (None, True)
    while len(rows) < size:
        values = {"batch": GROUP_BATCH} if start is None else {"batch": GROUP_BATCH, "name": start[0], "id": start[1]}
        found = session.execute(_groups(table, descending, None if start is None else inclusive), values).all()
        for group in found:
            rest = after is not None and group.id == after[1]  # the rest of the cursor's group
            stmt = _statement(("group rows", where.shape, key.group.key, descending, rest),
                              functools.partial(_group_rows, where, key, descending, rest))
            values = {**where.values, "group": group.id, "size": size - len(rows)}
            if rest:
                assert after is not None
                values["after_id"] = after[2]
            rows += [(asset, (group.name, group.id, asset.id)) for asset in session.scalars(stmt, values).unique()]
            if len(rows) >= size:
                break
        if len(found) < GROUP_BATCH:
            break
        start, inclusive = (found[-1].name, found[-1].id), False
    return rows


def _groups(table: Any, descending: bool, inclusive: bool | None) -> Any:
    """The next ``batch`` groups in name order, from (``name``, ``id``) on (``inclusive`` None: from the first)."""
    def make() -> Any:
        turn = (lambda c: c.desc()) if descending else (lambda c: c.asc())
        groups = select(table.id, table.name).order_by(turn(table.name), turn(table.id)).limit(bindparam("batch"))
        if inclusive is None:
            return groups
        name, ident = bindparam("name", type_=table.name.type), bindparam("id", type_=table.id.type)
        bound, start = tuple_(table.name, table.id), tuple_(name, ident)
        ahead = (bound <= start if inclusive else bound < start) if descending \
            else (bound >= start if inclusive else bound > start)
        return groups.where(table.name <= name if descending else table.name >= name, ahead)
    return _statement(("groups", table.__tablename__, descending, inclusive), make)


def _group_rows(where: Where, key: SortKey, descending: bool, rest: bool) -> Any:
    stmt = select(Asset).where(*where.clauses(), key.group == bindparam("group"))
    if rest:
        stmt = stmt.where(Asset.id < bindparam("after_id") if descending else Asset.id > bindparam("after_id"))
    return stmt.order_by(Asset.id.desc() if descending else Asset.id.asc()).limit(bindparam("size"))


def _seek(session: Session, where: Where, sort: str, after: tuple[Any, ...] | None, descending: bool, size: int,
          offset: int = 0, empty: bool = False) -> list[tuple[Asset, tuple[Any, ...]]]:
    """Up to ``size`` rows in the order of the sort key (``empty``: the rows without a value, by id),
    after the values ``after``."""
    stmt = _statement(("seek", where.shape, sort, descending, after is not None, bool(offset), empty),
                      lambda: _seek_statement(where, sort, descending, after is not None, bool(offset), empty))
    values = {**where.values, "size": size}
    if after is not None:
        values.update({f"after_{i}": value for i, value in enumerate(after)})
    if offset:
        values["offset"] = offset
    rows = session.execute(stmt, values).all()
    return [(row[0], tuple(row[1:])) for row in rows]


def _seek_statement(where: Where, sort: str, descending: bool, after: bool, offset: bool, empty: bool) -> Any:
    key = SORT_KEYS[sort]
    stmt = select(Asset).where(*where.clauses())
    if empty:
        assert key.empty is not None
        stmt, columns = stmt.where(key.empty), [Asset.id]
    else:
        stmt = stmt.join(key.join) if key.join is not None else stmt
        if key.empty is not None:
            stmt = stmt.where(key.value.is_not(None))
        columns = key.columns()
    if after:
        bounds = [bindparam(f"after_{i}", type_=column.type) for i, column in enumerate(columns)]
        ahead = tuple_(*columns) < tuple_(*bounds) if descending else tuple_(*columns) > tuple_(*bounds)
        # The same bound on the first column alone: an index on a joined table's name can start there.
        first = columns[0] <= bounds[0] if descending else columns[0] >= bounds[0]
        stmt = stmt.where(and_(first, ahead))
    stmt = stmt.add_columns(*columns).order_by(*[c.desc() if descending else c.asc() for c in columns])
    stmt = stmt.limit(bindparam("size"))
    return stmt.offset(bindparam("offset")) if offset else stmt
