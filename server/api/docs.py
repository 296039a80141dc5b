"""The browsable API documentation at /api/docs: Swagger UI, served by the app itself (no CDN), showing
the OpenAPI document at /api/v1/openapi.json.

Public, like the document it shows: it tells nothing the document does not, and someone who has an
API token but no web account can read it too. Trying an operation needs a bearer token (the
Authorize button); the page sends requests only to this site (connect-src 'self').

Swagger UI's files come from the flask-swagger-ui package, which ships its distribution (version 5,
the first to read OpenAPI 3.1). Only the files are used: that package's page configures Swagger UI in
an inline script, which the Content-Security-Policy (script-src 'self') blocks, so ours does it in a
static file (server/static/api-docs.js).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import flask_swagger_ui
from flask import Blueprint, render_template, send_from_directory, url_for

from server.auth import public

bp = Blueprint("api_docs", __name__, url_prefix="/api/docs")
SWAGGER_UI = Path(flask_swagger_ui.__file__).resolve().parent / "dist"


@bp.get("")
@public
def page() -> Any:
    """The API documentation page."""
    return render_template("api/docs.html", spec_url=url_for("api.openapi"))


@bp.get("/swagger-ui/<path:filename>")
@public
def swagger_file(filename: str) -> Any:
    return send_from_directory(SWAGGER_UI, filename, max_age=86400)
