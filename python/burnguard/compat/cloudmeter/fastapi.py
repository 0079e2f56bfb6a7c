"""cloudmeter's FastAPI / Starlette integration: ``app.add_middleware(CloudMeterMiddleware, ...)``."""

from __future__ import annotations

import time
from typing import Any

from burnguard.compat.cloudmeter import _dashboard_server, _reporter


class CloudMeterMiddleware:
    """ASGI middleware: reports every HTTP request by its route template (``scope["route"]``)."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        self._app = app
        _reporter.start_recording()
        _dashboard_server.start(kwargs)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        start = time.monotonic()
        status, length = 500, 0

        async def send_wrapper(message: Any) -> None:
            nonlocal status, length
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.lower() == b"content-length":
                        length = int(value)
            await send(message)

        try:
            await self._app(scope, receive, send_wrapper)
        finally:
            try:
                route = scope.get("route")
                path = getattr(route, "path", None) or scope.get("path", "/")
                method = scope.get("method", "GET")
                _reporter.report(
                    route=f"{method} {path}",
                    method=method,
                    status=status,
                    duration_ms=int((time.monotonic() - start) * 1000),
                    egress_bytes=length,
                )
            except Exception:
                pass
