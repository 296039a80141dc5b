"""The main menu and breadcrumbs.

Entries are declared by each area module (``MENU``), each under a section of the menu (``SECTIONS``
in ``server.web``: assets, procurement, gate, storeroom, office register, system and audit). Whether
a person sees an entry is decided by the roles its view declares, so the menu and the server's
refusals never disagree; a section with nothing for the role is not shown.

The menu is a side menu of ``<details>`` sections: it opens and closes without JavaScript and from
the keyboard, and the section of the page being shown is open, its entry marked ``aria-current``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flask import Flask, current_app, g, request, url_for

from server.auth import allowed_roles
from server.i18n import current_language, gettext


@dataclass(frozen=True)
class MenuItem:
    endpoint: str
    label: str  # English, marked with N_; translated when shown
    section: str = ""  # the key of its Section; "" lists it on its own at the top (the dashboard, reports)
    under: tuple[str, ...] = ()  # blueprints with no entry of their own whose pages count as this entry's


@dataclass(frozen=True)
class Section:
    key: str
    label: str  # English, marked with N_; "" for the links at the top, which have no heading


class Entry(NamedTuple):
    url: str
    label: str
    endpoint: str
    current: str = ""  # "page" on the entry's own page, "true" on a page under it (aria-current)


class Group(NamedTuple):
    key: str
    label: str
    entries: tuple[Entry, ...]
    open: bool = False


@dataclass
class RoleMenu:
    """A role's menu in one language and URL prefix, with what it needs to find the current page."""
    groups: tuple[Group, ...]
    exact: dict[str, tuple[int, int]]  # URL -> (group, entry)
    by_area: dict[str, list[tuple[int, int, str]]]  # blueprint -> its entries (group, entry, URL)
    adopted: dict[str, tuple[int, int]]  # blueprint with no entry -> the entry its pages count under
    area_group: dict[str, int]  # blueprint -> the group its pages belong to
    shown: dict[tuple[int, int, str], list[Group]] = field(default_factory=dict)  # made once per place


def add(app: Flask, items: Iterable[MenuItem]) -> None:
    app.extensions.setdefault("assetgate.menu", []).extend(items)


def set_sections(app: Flask, sections: Sequence[Section]) -> None:
    """The menu's sections, in order. Checked here so that a misspelt section, view or blueprint
    fails at start-up rather than leaving an entry out of the menu."""
    keys = {section.key for section in sections}
    for item in app.extensions.get("assetgate.menu", []):
        if item.section not in keys:
            raise ValueError(f"menu entry {item.endpoint}: no section {item.section!r}")
        if item.endpoint not in app.view_functions:
            raise ValueError(f"menu entry {item.endpoint}: no such view")
        for area in item.under:
            if area not in app.blueprints:
                raise ValueError(f"menu entry {item.endpoint}: no blueprint {area!r}")
    app.extensions["assetgate.sections"] = tuple(sections)


def visible_menu() -> list[Group]:
    """The signed-in person's menu, with the section of this page open and its entry marked."""
    actor = getattr(g, "actor", None)
    if actor is None:
        return []
    menu = _role_menu(actor.role)
    place = _place(menu, request.endpoint or "", request.script_root + request.path)
    shown = menu.shown.get(place)
    if shown is None:
        shown = menu.shown[place] = _mark(menu.groups, *place)
    return shown


def menu_for(role: str) -> list[Group]:
    """A role's menu as nobody's page shows it: every section closed (tests and documentation)."""
    return list(_role_menu(role).groups)


def _place(menu: RoleMenu, endpoint: str, path: str) -> tuple[int, int, str]:
    """(open group, marked entry, how) of a page: the entry whose URL this is; else, of the entries
    of this page's blueprint, the one whose URL is the longest start of it (an asset's page is under
    the asset search); else the entry that adopted the blueprint (a seal's use requests are under
    the seals); else the section of the blueprint's entries, no entry marked."""
    hit = menu.exact.get(path)
    if hit is not None:
        return hit[0], hit[1], "page"
    area = endpoint.partition(".")[0]
    best: tuple[int, int, str] | None = None
    for group, entry, url in menu.by_area.get(area, ()):
        if path.startswith(url) and (best is None or len(url) > len(best[2])):
            best = (group, entry, url)
    if best is not None:
        return best[0], best[1], "true"
    adopted = menu.adopted.get(area)
    if adopted is not None:
        return adopted[0], adopted[1], "true"
    return menu.area_group.get(area, -1), -1, ""


def _mark(groups: tuple[Group, ...], open_group: int, marked: int, how: str) -> list[Group]:
    shown = []
    for index, group in enumerate(groups):
        if index == open_group:
            entries = tuple(entry._replace(current=how) if i == marked else entry
                            for i, entry in enumerate(group.entries))
            group = group._replace(entries=entries, open=bool(group.label))
        shown.append(group)
    return shown


def _role_menu(role: str) -> RoleMenu:
    """The menu of a role, made once per role, language and URL prefix (behind a proxy) and then
    kept: every page shows it, and making it took 0.2 ms."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    key = (role, current_language(), request.script_root)
    kept: dict[tuple[str, str, str], RoleMenu] = app.extensions.setdefault("assetgate.menus", {})
    menu = kept.get(key)
    if menu is None:
        if len(kept) > 64:  # a few roles times two languages; more only if a proxy sends many prefixes
            kept.clear()
        menu = kept[key] = _make(app, role)
    return menu


def _make(app: Flask, role: str) -> RoleMenu:
    items = [item for item in app.extensions.get("assetgate.menu", [])
             if role in (allowed_roles(app.view_functions[item.endpoint]) or frozenset())]
    groups: list[Group] = []
    exact: dict[str, tuple[int, int]] = {}
    by_area: dict[str, list[tuple[int, int, str]]] = {}
    adopted: dict[str, tuple[int, int]] = {}
    area_group: dict[str, int] = {}
    for section in app.extensions["assetgate.sections"]:
        mine = [item for item in items if item.section == section.key]
        if not mine:
            continue
        index = len(groups)
        entries = tuple(Entry(url_for(item.endpoint), gettext(item.label), item.endpoint) for item in mine)
        groups.append(Group(section.key, gettext(section.label) if section.label else "", entries))
        for e_index, (item, entry) in enumerate(zip(mine, entries, strict=True)):
            area = item.endpoint.partition(".")[0]
            exact[entry.url] = (index, e_index)
            by_area.setdefault(area, []).append((index, e_index, entry.url))
            for other in item.under:
                adopted.setdefault(other, (index, e_index))
            if section.label:  # a blueprint's other pages open the section of its first entry
                area_group.setdefault(area, index)
    return RoleMenu(tuple(groups), exact, by_area, adopted, area_group)


def can(endpoint: str) -> bool:
    """Whether the signed-in person's role may use the view ``endpoint``: read from the view's own
    ``@roles``, so a page offers a button only where the server would accept the click."""
    actor = getattr(g, "actor", None)
    view = current_app.view_functions.get(endpoint)
    return actor is not None and view is not None and actor.role in (allowed_roles(view) or frozenset())


def link(value: Any, endpoint: str) -> str:
    """``url_for(endpoint, code=value)`` for a route whose one variable is ``code``, the same text:
    the route's URL is made once per URL prefix around a marker, and each value is put in the
    marker's place by the route's own converter (as url_for does). For the links on every row of a
    list: url_for took 5 µs each."""
    script_root = request.script_root
    kept: dict[tuple[str, str], tuple[str, str, Callable[[Any], str]]] = \
        current_app.extensions.setdefault("assetgate.links", {})
    parts = kept.get((endpoint, script_root))
    if parts is None:
        (rule,) = current_app.url_map.iter_rules(endpoint)
        before, after = url_for(endpoint, code=_MARK).split(_MARK)
        if len(kept) > 64:  # a few routes; more only if a proxy sends many prefixes
            kept.clear()
        parts = kept[(endpoint, script_root)] = (before, after, rule._converters["code"].to_url)
    before, after, to_url = parts
    return before + to_url(value) + after


_MARK = "LINKVALUEMARK"  # letters only: no converter changes it


def url_with(**changes: Any) -> str:
    """This page's URL with some query arguments changed (None removes one): sorting, filters, pages."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = value
    values: dict[str, Any] = {**(request.view_args or {}), **args}
    return url_for(request.endpoint or "dashboard.index", **values)


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(menu=visible_menu, url_with=url_with, can=can)
    app.jinja_env.filters["link"] = link
