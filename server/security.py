"""Response headers every page and API answer carries, and the session cookie's flags.

The Content-Security-Policy allows scripts only from this site (htmx is served by the app, no
inline scripts), so an injected ``<script>`` does not run; pages cannot be framed (clickjacking);
browsers may not guess content types; and links to other sites do not carry our URLs.
Inline styles stay allowed: charts are SVG with their own ``<style>``, and a style cannot run code.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "font-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
       "form-action 'self'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class TlsAwareSessionInterface(SecureCookieSessionInterface):
    """The session cookie is ``Secure`` whenever the request came over TLS (directly or, with
    ``behind_proxy``, as the proxy says), and always when SESSION_COOKIE_SECURE is set."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """Flask's serializer, kept while the keys stay the same: Flask makes one per request, and
        making one runs a trial serialization (2 % of a page's CPU)."""
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = self.__dict__.get("_kept_serializer")
        if kept is None or kept[0] != keys:
            kept = self.__dict__["_kept_serializer"] = (keys, super().get_signing_serializer(app))
        serializer: URLSafeTimedSerializer | None = kept[1]
        return serializer


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def init_app(app: Flask) -> None:
    app.session_interface = TlsAwareSessionInterface()
    app.after_request(add_headers)
