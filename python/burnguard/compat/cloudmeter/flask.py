"""cloudmeter's Flask integration: ``CloudMeterFlask(app, **options)`` or ``init_app(app)``."""

from __future__ import annotations

import time
from typing import Any

from burnguard.compat.cloudmeter import _dashboard_server, _reporter


class CloudMeterFlask:
    """Reports every request of a Flask app by its URL rule, and starts the dashboard."""

    def __init__(self, app: Any = None, **kwargs: Any) -> None:
        self._kwargs = kwargs
        if app is not None:
            self.init_app(app, **kwargs)

    def init_app(self, app: Any, **kwargs: Any) -> None:
        opts = {**self._kwargs, **kwargs}
        _reporter.start_recording()
        _dashboard_server.start(opts)
        app.before_request(_before)
        app.after_request(_after)


def _before() -> None:
    from flask import g

    g._cm_start = time.monotonic()


def _after(response: Any) -> Any:
    from flask import g, request

    try:
        duration_ms = int((time.monotonic() - g._cm_start) * 1000)
        route = str(request.url_rule) if request.url_rule else request.path
        _reporter.report(
            route=f"{request.method} {route}",
            method=request.method,
            status=response.status_code,
            duration_ms=duration_ms,
            egress_bytes=int(response.headers.get("Content-Length") or 0),
        )
    except Exception:
        pass
    return response
