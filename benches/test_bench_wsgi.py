"""Per-request overhead of the WSGI adapters on Flask and of the Django middleware, against the
bare app and cloudmeter 0.5.0's adapters in the same run. Each round drives 1,000 requests to
one templated route through the WSGI callable (no HTTP stack)."""

from __future__ import annotations

from typing import Any

import django
import pytest
from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from werkzeug.test import EnvironBuilder

import burnguard
from burnguard.wsgi import FlaskGuard

REQUESTS = 1_000
ENVIRON = EnvironBuilder(path="/users/7").get_environ()


def _drive(wsgi: Any) -> Any:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    def many() -> None:
        for _ in range(REQUESTS):
            body = wsgi(dict(ENVIRON), start_response)
            for _chunk in body:
                pass
            if hasattr(body, "close"):
                body.close()

    return many


def _guard_with_slo_and_breaker() -> burnguard.RouteGuard:
    slo = burnguard.RouteSLO(availability=burnguard.SLOTracker(burnguard.SLODefinition("a", 0.999)))
    return burnguard.RouteGuard(slos={"*": slo}, breakers={"*": burnguard.CircuitBreaker("api")})


def _flask(variant: str) -> Any:
    from flask import Flask

    app = Flask(__name__)

    @app.get("/users/<int:uid>")
    def user(uid: int) -> str:
        return "ok"

    if variant == "burnguard":
        FlaskGuard(app)
    elif variant == "burnguard + SLO + breaker":
        FlaskGuard(app, guard=_guard_with_slo_and_breaker())
    elif variant == "cloudmeter":
        from cloudmeter.flask import CloudMeterFlask

        CloudMeterFlask(app, port=0)
    return app


@pytest.mark.benchmark(group="per-route middleware on Flask: 1,000 requests")
@pytest.mark.parametrize("variant", ["bare app", "burnguard", "burnguard + SLO + breaker", "cloudmeter"])
def test_flask_overhead(benchmark, variant: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.extra_info.update(baseline=variant == "bare app", calls=REQUESTS)
    benchmark(_drive(_flask(variant)))


def _user(request: Any, uid: int) -> HttpResponse:
    return HttpResponse(b"ok")


urlpatterns = [path("users/<int:uid>", _user)]

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench",
        ALLOWED_HOSTS=["*"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[],
        CLOUDMETER={"port": 0},
    )
    django.setup()


def _django(variant: str) -> Any:
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    middleware = {
        "bare app": [],
        "burnguard": ["burnguard.django.GuardMiddleware"],
        "burnguard + SLO + breaker": ["burnguard.django.GuardMiddleware"],
        "cloudmeter": ["cloudmeter.django.CloudMeterMiddleware"],
    }[variant]
    guard = (
        _guard_with_slo_and_breaker() if variant == "burnguard + SLO + breaker" else burnguard.RouteGuard()
    )
    with override_settings(MIDDLEWARE=middleware, BURNGUARD={"guard": guard}):
        return WSGIHandler()  # loads the middleware chain now


@pytest.mark.benchmark(group="per-route middleware on Django: 1,000 requests")
@pytest.mark.parametrize("variant", ["bare app", "burnguard", "burnguard + SLO + breaker", "cloudmeter"])
def test_django_overhead(benchmark, variant: str) -> None:  # type: ignore[no-untyped-def]
    benchmark.extra_info.update(baseline=variant == "bare app", calls=REQUESTS)
    handler = _django(variant)
    assert handler(dict(ENVIRON), lambda *a: None).status_code == 200
    benchmark(_drive(handler))
