"""cloudmeter's Django integration: ``cloudmeter.django.CloudMeterMiddleware`` in ``MIDDLEWARE``,
configured by ``settings.CLOUDMETER``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from burnguard.compat.cloudmeter import _dashboard_server, _reporter

_started = False


class CloudMeterMiddleware:
    """Reports every request by its URL pattern (``resolver_match.route``)."""

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        global _started
        self.get_response = get_response
        if not _started:
            _started = True
            try:
                from django.conf import settings

                opts = getattr(settings, "CLOUDMETER", {})
            except Exception:
                opts = {}
            _reporter.start_recording()
            _dashboard_server.start(opts)

    def __call__(self, request: Any) -> Any:
        start = time.monotonic()
        response = self.get_response(request)
        try:
            match = getattr(request, "resolver_match", None)
            route = (match.route if match else None) or request.path
            _reporter.report(
                route=f"{request.method} {route}",
                method=request.method,
                status=response.status_code,
                duration_ms=int((time.monotonic() - start) * 1000),
                egress_bytes=int(response.get("Content-Length") or 0),
            )
        except Exception:
            pass
        return response
