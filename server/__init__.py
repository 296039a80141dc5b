"""AssetGate central service: ``create_app`` builds a Flask app from validated settings."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, g, request
from flask_wtf.csrf import CSRFProtect

from server import audit, connections, personal
from server.config import Settings, load_settings, secret_key_for
from server.db import is_read_only, make_engine, make_session_factory, read_only_engine
from server.routing import SharedBuilderRule

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | Settings | None = None) -> Flask:
    settings = config if isinstance(config, Settings) else load_settings(config)
    # No static folder: pages inline their few styles, and every route must declare its roles.
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()), static_folder=None)
    app.config.update(
        SECRET_KEY=secret_key_for(settings),
        TESTING=settings.testing,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        WTF_CSRF_ENABLED=settings.csrf_enabled,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.extensions["assetgate.settings"] = settings
    app.url_rule_class = SharedBuilderRule
    from server import templating

    templating.init_app(app)  # before anything makes app.jinja_env
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if settings.behind_proxy:
        # Only the proxies we were told about may set the client address, scheme, host and prefix.
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.behind_proxy
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]

    engine = make_engine(settings.effective_database_url, **connections.pool_options(settings))
    app.extensions["assetgate.engine"] = engine
    app.extensions["assetgate.sessions"] = make_session_factory(engine)
    personal.install(app.extensions["assetgate.sessions"], settings)
    audit.install(app.extensions["assetgate.sessions"], settings)  # the audit keys, read and checked once
    _init_db_session(app)

    from server import auth, i18n, inputs, security, web
    from server.api import bp as api_bp
    from server.api.docs import bp as api_docs_bp

    security.init_app(app)
    inputs.init_app(app)  # before any view reads a request: bounded JSON, no NUL
    auth.init_app(app)  # first: the language of a page depends on who is signed in
    i18n.init_app(app, settings.timezone)
    csrf = CSRFProtect(app)
    csrf.exempt(api_bp)  # bearer tokens only, never cookies: see server.auth
    app.register_blueprint(api_bp)
    app.register_blueprint(api_docs_bp)
    web.register(app)
    return app


def _init_db_session(app: Flask) -> None:
    factory = app.extensions["assetgate.sessions"]
    reader = read_only_engine(app.extensions["assetgate.engine"])

    @app.before_request
    def _open() -> None:
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        g.db = factory(bind=reader) if reader is not None and is_read_only(view) else factory()

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            db.close()  # anything a view did not commit is rolled back here


def settings_of(app: Flask) -> Settings:
    settings: Settings = app.extensions["assetgate.settings"]
    return settings
