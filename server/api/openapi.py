"""The OpenAPI document, built from the routes themselves so it cannot drift from them: paths from the
URL map, roles from ``@roles``, request bodies from the pydantic models of ``@accepts``, query
parameters from ``@query``, and the ``Idempotency-Key`` header every POST takes (idempotency.py)."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, jsonify
from pydantic import BaseModel

from server import __version__
from server.api import bp, idempotency
from server.auth import allowed_roles, public

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}}}}}
_ERROR_REF = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER, "in": "header", "required": False,
    "description": "Any POST: a retry with the same key and request gets the first (2xx) answer again, with "
                   f"`{idempotency.REPLAYED}: true`, instead of running twice (docs/api.md).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"}}


def build_spec() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _ERROR}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        view = current_app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(view, method, rule.arguments, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "AssetGate API", "version": __version__},
        "servers": [{"url": "/"}],
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


def _operation(view: Any, method: str, arguments: set[str], schemas: dict[str, Any]) -> dict[str, Any]:
    roles = allowed_roles(view) or frozenset()
    doc = (view.__doc__ or "").strip()
    model = getattr(view, "_body", None)
    op: dict[str, Any] = {
        "operationId": view.__name__,
        "tags": [view.__module__.rsplit(".", 1)[-1]],  # the module: assets, procurement, reports...
        "summary": doc.splitlines()[0] if doc else view.__name__,
        "parameters": _parameters(view, method, arguments),
        "responses": _responses(method, secured="*" not in roles, has_body=model is not None,
                                has_path=bool(arguments)),
    }
    if doc:
        op["description"] = doc
    if "*" not in roles:
        op["security"] = [{"bearer": []}]
        op["x-roles"] = sorted(roles)
    raw = getattr(view, "_raw_body", None)  # a body that is a file (a seal's imprint), by content type
    if raw:
        op["requestBody"] = {"required": True, "content": {
            kind: {"schema": {"type": "string", "format": "binary", "maxLength": 1024 * 1024}} for kind in raw}}
    if model is not None:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    return op


def _parameters(view: Any, method: str, arguments: set[str]) -> list[dict[str, Any]]:
    found = [{"name": a, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 300}}
             for a in sorted(arguments)]
    declared: Any = getattr(view, "_query", ())
    if isinstance(declared, type) and issubclass(declared, BaseModel):  # a query model (GET /assets)
        properties = declared.model_json_schema()["properties"]
        found += [{"name": name, "in": "query", "required": info.is_required(),
                   "description": info.description or "", "schema": properties[name]}
                  for name, info in declared.model_fields.items()]
    else:  # @query(Param, ...) declarations
        found += [p.spec() for p in declared]
    if method == "POST":
        found.append(_IDEMPOTENCY_KEY)
    return found


def _responses(method: str, secured: bool, has_body: bool, has_path: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"200": {"description": "OK"}}
    if method == "POST":
        out["201"] = {"description": "Created"}
    out["400"] = {"description": "Malformed request (JSON, a NUL character, an Idempotency-Key)", **_ERROR_REF}
    if secured:
        out["401"] = {"description": "No valid bearer token", **_ERROR_REF}
        out["403"] = {"description": "The token's role may not do this", **_ERROR_REF}
    if has_path:
        out["404"] = {"description": "Not found", **_ERROR_REF}
    if method == "POST":
        out["409"] = {"description": "Conflicts with the ledger, or the same Idempotency-Key is in flight",
                      **_ERROR_REF}
    out["422"] = {"description": "Refused: a field, a parameter or a rule (the code says which)", **_ERROR_REF}
    return out


@bp.get("/openapi.json")
@public
def openapi() -> Any:
    """This API's OpenAPI 3.1 document."""
    return jsonify(build_spec())
