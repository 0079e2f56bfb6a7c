"""A live dashboard of burnguard's SLOs, alerts, breakers, ledger budgets, routes and costs,
served in the app's own process on ``127.0.0.1:7777`` (see ``Dashboard``). Everything it
needs ships in the wheel: the page, a few KB of script and style, and SVG charts drawn on
the server; nothing is loaded from the network."""

from burnguard.dashboard.server import Dashboard

__all__ = ["Dashboard"]
