"""Drop-in for ``cloudmeter`` 0.5.0: rewrite ``cloudmeter`` imports to this package.

``flask.CloudMeterFlask``, ``fastapi.CloudMeterMiddleware`` and ``django.CloudMeterMiddleware``
take cloudmeter's options (``provider``, ``region``, ``target_users``,
``requests_per_user_per_second``, ``budget_usd``, ``port``) and report each request, by its
route template, to ``_reporter``: into burnguard's bounded native windows, not a list that
grows with traffic. The dashboard at ``127.0.0.1:7777`` is burnguard's, with cloudmeter's
JSON endpoints; costs come from burnguard's model (see ``_cost_projector``).
"""

from burnguard.compat.cloudmeter import _reporter

__all__ = ["_reporter"]
__version__ = "0.1.0"  # what cloudmeter 0.5.0 reports
