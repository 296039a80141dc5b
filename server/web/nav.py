"""The main menu and breadcrumbs.

Entries are declared by each area module (``MENU``); whether a person sees one is decided by the
roles its view declares, so the menu and the server's refusals never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, request, url_for

from server.auth import allowed_roles
from server.i18n import current_language, gettext


@dataclass(frozen=True)
class MenuItem:
    endpoint: str
    label: str  # English, marked with N_; translated when shown


def add(app: Flask, items: Iterable[MenuItem]) -> None:
    app.extensions.setdefault("assetgate.menu", []).extend(items)


def visible_menu() -> list[dict[str, Any]]:
    actor = getattr(g, "actor", None)
    if actor is None:
        return []
    here = request.endpoint.split(".")[0] if request.endpoint is not None else None
    return [{"url": url, "label": label, "active": area == here} for url, label, area in _entries(actor.role)]


def _entries(role: str) -> list[tuple[str, str, str]]:
    """The menu of a role: (URL, label, blueprint) per entry, made once per role, language and URL
    prefix (behind a proxy) and then kept: every page shows it, and making it took 0.2 ms."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    key = (role, current_language(), request.script_root)
    kept: dict[tuple[str, str, str], list[tuple[str, str, str]]] = app.extensions.setdefault("assetgate.menus", {})
    entries = kept.get(key)
    if entries is None:
        entries = [(url_for(item.endpoint), gettext(item.label), item.endpoint.split(".")[0])
                   for item in app.extensions.get("assetgate.menu", [])
                   if role in (allowed_roles(app.view_functions[item.endpoint]) or frozenset())]
        if len(kept) > 64:  # a few roles times two languages; more only if a proxy sends many prefixes
            kept.clear()
        kept[key] = entries
    return entries


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
