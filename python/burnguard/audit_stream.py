"""Audit-stream events on burn-rate transitions, as slo-budget-tracker 0.1.1 emits them.

Set ``AUDIT_STREAM_URL`` to enable; ``SLOTracker.check_burn_rate_with_audit`` then POSTs
``{"kind", "source", "payload"}`` to ``$AUDIT_STREAM_URL/events`` on each transition:
``slo_burn_started`` and ``slo_recovered``. ``AUDIT_STREAM_TIMEOUT_S`` sets the per-call
timeout (default 2.5 s, at least 0.1 s). ``source`` is ``"slo-budget-tracker"``, so consumers of
the peer's events keep working; ``AUDIT_STREAM_SOURCE`` overrides it. Needs ``httpx``
(``pip install burnguard[audit]``).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_S = 2.5
DEFAULT_SOURCE = "slo-budget-tracker"

_log = logging.getLogger("burnguard.audit_stream")


def is_enabled() -> bool:
    """True when ``AUDIT_STREAM_URL`` is set to a non-empty value."""
    return base_url() is not None


def base_url() -> str | None:
    """The audit-stream base URL without trailing slashes, or None when disabled."""
    raw = os.environ.get("AUDIT_STREAM_URL", "").strip()
    return raw.rstrip("/") or None


def timeout_s() -> float:
    """Per-call timeout in seconds: ``AUDIT_STREAM_TIMEOUT_S`` or 2.5, never below 0.1."""
    raw = os.environ.get("AUDIT_STREAM_TIMEOUT_S", "").strip()
    try:
        return max(0.1, float(raw)) if raw else DEFAULT_TIMEOUT_S
    except ValueError:
        return DEFAULT_TIMEOUT_S


async def emit(client: httpx.AsyncClient, *, kind: str, payload: dict[str, Any]) -> None:
    """POST one event; a no-op when disabled. Failures are logged, never raised."""
    url = base_url()
    if url is None:
        return
    import httpx

    body = {"kind": kind, "source": os.environ.get("AUDIT_STREAM_SOURCE", DEFAULT_SOURCE), "payload": payload}
    try:
        response = await client.post(f"{url}/events", json=body, timeout=timeout_s())
        response.raise_for_status()
    except (httpx.HTTPError, OSError) as err:
        _log.warning("audit-stream emit failed (kind=%s): %s: %s", kind, type(err).__name__, err)
