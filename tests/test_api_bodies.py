"""Issue 15, "Strings": every string field of every request body has a length limit, and no string
anywhere in a body carries a NUL or a lone surrogate. The walk finds every ``Body`` subclass in
server.api, so a body model added later is held to the same rule."""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from annotated_types import MaxLen
from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo

import server.api
from server.api import Body


def _all_bodies() -> list[type[Body]]:
    for module in pkgutil.iter_modules(server.api.__path__):
        importlib.import_module(f"server.api.{module.name}")
    found, todo = [], list(Body.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return sorted(found, key=lambda m: m.__qualname__)


def _unbounded_strings(annotation: Any, metadata: list[Any], where: str) -> list[str]:
    """Places in a field's type where a string may be of any length. A field's own constraints bound
    a ``str`` or ``str | None`` field; the items of a list need their own (``list[CodeText]``)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is str:
        return [] if any(isinstance(m, MaxLen) for m in metadata) else [where]
    if origin is Annotated:
        inner = [m for a in args[1:] for m in (a.metadata if isinstance(a, FieldInfo) else [a])]
        return _unbounded_strings(args[0], metadata + inner, where)
    if origin in (Union, UnionType):
        return [w for a in args for w in _unbounded_strings(a, metadata, where)]
    if origin in (list, set, frozenset, tuple, dict):
        return [w for a in args if a is not Ellipsis for w in _unbounded_strings(a, [], f"{where}[]")]
    return []  # numbers, dates, Literal choices; nested models are walked as bodies of their own


def _unbounded_fields(model: type[Body]) -> list[str]:
    return [w for name, info in model.model_fields.items()
            for w in _unbounded_strings(info.annotation, list(info.metadata), f"{model.__name__}.{name}")]


def test_the_walk_finds_the_bodies() -> None:
    names = {m.__name__ for m in _all_bodies()}
    assert {"AssetIn", "PurchaseIn", "PurchaseLineIn", "IntakeIn", "LabelsIn", "PersonIn"} <= names


@pytest.mark.parametrize("model", _all_bodies(), ids=lambda m: m.__name__)
def test_every_string_field_has_a_max_length(model: type[Body]) -> None:
    assert _unbounded_fields(model) == []


@pytest.mark.parametrize("model", _all_bodies(), ids=lambda m: m.__name__)
def test_every_body_refuses_nul_and_lone_surrogates_in_every_string(model: type[Body]) -> None:
    for field_name, info in model.model_fields.items():
        name = info.alias or field_name  # what a client sends (e.g. "pass" for pass_)
        for bad in ("a\x00b", "a\ud800b"):
            with pytest.raises(ValidationError) as refused:
                model.model_validate({name: bad})
            errors = {e["loc"][0]: e["type"] for e in refused.value.errors()}
            if info.annotation is not None and "str" in str(info.annotation):
                assert errors[name] in ("nul_character", "lone_surrogate"), (name, errors)


def test_a_body_that_forgets_a_limit_is_caught() -> None:
    class Careless(Body):
        note: str

        codes: list[str] = Field(max_length=10)  # bounds the list, not its strings
        fine: str | None = Field(None, max_length=10)

    assert _unbounded_fields(Careless) == ["Careless.note", "Careless.codes[]"]


def test_the_openapi_document_comes_from_the_same_schemas(app: Any, client: Any) -> None:
    """Request bodies are the @accepts models' own JSON schemas, query parameters the @query
    declarations, and every POST lists the Idempotency-Key header."""
    spec = client.get("/api/v1/openapi.json").get_json()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        view = app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op = spec["paths"][path][method.lower()]
            model = getattr(view, "_body", None)
            if model is not None:
                ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                own = model.model_json_schema(ref_template="#/components/schemas/{model}")
                own.pop("$defs", None)
                assert spec["components"]["schemas"][ref.rsplit("/", 1)[-1]] == own, path
                checked += 1
            query = [p["name"] for p in op["parameters"] if p["in"] == "query"]
            declared = getattr(view, "_query", ())
            names = list(declared.model_fields) if isinstance(declared, type) else [p.name for p in declared]
            assert query == names, path
            headers = [p["name"] for p in op["parameters"] if p["in"] == "header"]
            assert headers == (["Idempotency-Key"] if method == "POST" else []), path
    assert checked >= 15
    from server.api.assets import AssetQuery

    assert {p["name"] for p in spec["paths"]["/api/v1/assets"]["get"]["parameters"]} == set(AssetQuery.model_fields)
    assert {"limit", "offset", "status", "location", "category", "q", "after"} <= set(AssetQuery.model_fields)
