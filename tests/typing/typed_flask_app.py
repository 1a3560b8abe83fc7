"""A Flask app as its user writes it under ``mypy --strict``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, abort

from audmw import AccessToken, Settings
from audmw_flask import Audmw, current_token, get_current_token, protect, public, require_scopes

reports = protect(Blueprint("reports", __name__, url_prefix="/reports"), scopes=["reports"])


@reports.get("/export")
@require_scopes("export")
def export() -> dict[str, Any]:
    token: AccessToken | None = get_current_token()
    if token is None:  # not reached behind the extension: the view needs a token
        abort(500)
    return {"sub": token.subject, "scopes": sorted(token.scopes)}


def create_app(settings: Settings | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(AUDMW_ISSUER="https://login.example.com/")
    app.config.update(AUDMW_AUDIENCE="https://api.example.com")
    Audmw(app, settings=settings)
    app.register_blueprint(reports)

    @app.get("/health")
    @public
    def health() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/me")
    def me() -> dict[str, Any]:
        # The proxy of earlier releases keeps working.
        return {"sub": current_token.subject}

    return app
