"""URL rules whose builders are compiled once per process, not once per app.

Werkzeug compiles two small Python functions (through ``ast`` and ``compile``) for every URL rule
when it is added to an app. With some 1,100 routes that is about 85 % of ``create_app``'s CPU
(0.25 s of 0.3 s). One app per gunicorn worker would not notice, but the test suite builds a fresh
app for every test, the Flask tutorial's way, and paid about ten minutes of CPU per CI run for it.

A builder depends only on the rule's text, its host or subdomain, its defaults and whether it
appends unknown arguments; the rule itself comes in as an argument. So the compiled function is
shared between equal rules of different apps, and each rule still binds it to itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule

_BUILDERS: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}


class SharedBuilderRule(Rule):
    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        key = self._builder_key(append_unknown)
        if key is None:
            return super()._compile_builder(append_unknown)
        builder = _BUILDERS.get(key)
        if builder is None:
            builder = _BUILDERS[key] = super()._compile_builder(append_unknown)
        return builder

    def _builder_key(self, append_unknown: bool) -> tuple[Any, ...] | None:
        assert self.map is not None, "rule not bound"
        key = (self.map.host_matching, self.host, self.subdomain, self.rule, self.merge_slashes,
               tuple(sorted((self.defaults or {}).items())), append_unknown)
        try:
            hash(key)
        except TypeError:  # an unhashable default: compile this one as Werkzeug would
            return None
        return key
