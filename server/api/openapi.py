"""The OpenAPI document, built from the routes themselves so it cannot drift from them."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, jsonify

from server import __version__
from server.api import bp
from server.auth import allowed_roles, public

_ERROR = {"type": "object", "properties": {"error": {"type": "object", "properties": {
    "code": {"type": "string"}, "message": {"type": "string"}}}}}


def build_spec() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {"Error": _ERROR}
    for rule in current_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        view = current_app.view_functions[rule.endpoint]
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            paths.setdefault(path, {})[method.lower()] = _operation(view, rule.arguments, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": "AssetGate API", "version": __version__},
        "servers": [{"url": "/"}],
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }


def _operation(view: Any, arguments: set[str], schemas: dict[str, Any]) -> dict[str, Any]:
    roles = allowed_roles(view) or frozenset()
    doc = (view.__doc__ or "").strip()
    op: dict[str, Any] = {
        "operationId": view.__name__,
        "summary": doc.splitlines()[0] if doc else view.__name__,
        "parameters": [{"name": a, "in": "path", "required": True, "schema": {"type": "string"}}
                       for a in sorted(arguments)],
        "responses": {"200": {"description": "OK"},
                      "4XX": {"description": "Error", "content": {"application/json": {
                          "schema": {"$ref": "#/components/schemas/Error"}}}}},
    }
    if "*" not in roles:
        op["security"] = [{"bearer": []}]
        op["x-roles"] = sorted(roles)
    query = getattr(view, "_query", None)
    if query is not None:
        for name, field in query.model_fields.items():
            schema = query.model_json_schema()["properties"][name]
            op["parameters"].append({"name": name, "in": "query", "required": field.is_required(),
                                     "description": field.description or "", "schema": schema})
    model = getattr(view, "_body", None)
    if model is not None:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}
    return op


@bp.get("/openapi.json")
@public
def openapi() -> Any:
    """This API's OpenAPI 3.1 document."""
    return jsonify(build_spec())
