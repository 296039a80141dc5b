"""Pages that belong to another area's blueprint but live in a module of their own (the gate's exit
permits and watchlist, procurement corrections, the storeroom's conflicts): their routes are collected
here when the module is read and put on the blueprint only by ``server.web.register``, so no route
is added to the app by importing a module."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint

F = TypeVar("F", bound=Callable[..., Any])


class Routes:
    """Like a blueprint's ``route``/``get``/``post`` decorators, but only recorded."""

    def __init__(self) -> None:
        self._rules: list[tuple[str, str | None, Callable[..., Any], dict[str, Any]]] = []
        self._added_to: set[str] = set()

    def route(self, rule: str, *, endpoint: str | None = None, **options: Any) -> Callable[[F], F]:
        def record(view: F) -> F:
            self._rules.append((rule, endpoint, view, options))
            return view

        return record

    def get(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self.route(rule, methods=["GET"], **options)

    def post(self, rule: str, **options: Any) -> Callable[[F], F]:
        return self.route(rule, methods=["POST"], **options)

    def add_to(self, bp: Blueprint) -> None:
        """Put the routes on ``bp``, once: a blueprint takes no new routes after its first registration,
        and every app made in this process (the tests make many) registers the same blueprint object."""
        if bp.name in self._added_to:
            return
        for rule, endpoint, view, options in self._rules:
            bp.add_url_rule(rule, endpoint, view, **options)
        self._added_to.add(bp.name)
