"""``burnguard serve``: the Cycles-protocol budget server (``burnguard-server``, in Rust, off
the GIL), provisioned from a TOML file or ``--dev``.

A config file::

    [[tenants]]
    name = "acme"
    api_key_env = "ACME_CYCLES_KEY"      # the key is in this variable, or
    # api_key_sha256 = "9f86d0..."       # only its SHA-256 is written down

    [[budgets]]
    scope = "tenant:acme"
    unit = "USD_MICROCENTS"
    allocated = 100_000_000
    overdraft_limit = 0
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from burnguard import _native
from burnguard.errors import BurnguardError

if TYPE_CHECKING:
    from burnguard.redis import RedisBackend
    from burnguard.redis.ledger import LedgerSequencer
    from burnguard.redis.provisioned import ProvisionedStore

#: What ``--dev`` provisions.
DEV_TENANT, DEV_BUDGET = "dev", 1_000_000_000


class ConfigError(BurnguardError, ValueError):
    """A config file that does not say what to serve."""


@dataclass
class Provision:
    """Tenants' keys and budgets to give a server."""

    keys: list[tuple[str, str, bool]] = field(default_factory=list)
    """``(secret or SHA-256 hex, tenant, is_hash)``."""
    budgets: list[tuple[str, str, int, int]] = field(default_factory=list)
    """``(scope, unit, allocated, overdraft_limit)``."""

    def apply(self, server: _native.CyclesServer) -> None:
        for key, tenant, is_hash in self.keys:
            (server.add_key_hash if is_hash else server.add_key)(key, tenant)
        for scope, unit, allocated, overdraft in self.budgets:
            server.set_budget(scope, unit, allocated, overdraft)


def dev() -> tuple[Provision, str]:
    """A tenant ``dev`` with a fresh random key (returned; printed once, never stored) and
    a budget of 1,000,000,000 in every unit on ``tenant:dev``."""
    secret = "cyc_dev_" + secrets.token_urlsafe(32)
    units = ("USD_MICROCENTS", "TOKENS", "CREDITS", "RISK_POINTS")
    return Provision(
        [(secret, DEV_TENANT, False)], [(f"tenant:{DEV_TENANT}", u, DEV_BUDGET, 0) for u in units]
    ), secret


def _table(item: Any, where: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be a table")
    return item


def load(path: str) -> Provision:
    """The provision a TOML config file describes (see the module docs)."""
    if sys.version_info < (3, 11):
        raise ConfigError("--config needs Python 3.11 or later (tomllib)")
    import tomllib  # type: ignore[import-not-found,unused-ignore]  # mypy checks as 3.10

    try:
        document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    provision = Provision()
    for i, tenant in enumerate(document.pop("tenants", [])):
        where = f"tenants[{i}]"
        t = _table(tenant, where)
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}.name must be a non-empty string")
        if "api_key_env" in t:
            secret = os.environ.get(str(t["api_key_env"]))
            if not secret:
                raise ConfigError(f"{where}.api_key_env: the variable {t['api_key_env']} is not set")
            provision.keys.append((secret, name, False))
        elif "api_key_sha256" in t:
            provision.keys.append((str(t["api_key_sha256"]), name, True))
        else:
            raise ConfigError(f"{where} needs api_key_env or api_key_sha256")
        if extra := set(t) - {"name", "api_key_env", "api_key_sha256"}:
            raise ConfigError(f"{where}.{sorted(extra)[0]} is not a tenant field")
    for i, budget in enumerate(document.pop("budgets", [])):
        where = f"budgets[{i}]"
        b = _table(budget, where)
        if extra := set(b) - {"scope", "unit", "allocated", "overdraft_limit"}:
            raise ConfigError(f"{where}.{sorted(extra)[0]} is not a budget field")
        try:
            provision.budgets.append(
                (str(b["scope"]), str(b["unit"]), int(b["allocated"]), int(b.get("overdraft_limit", 0)))
            )
        except KeyError as missing:
            raise ConfigError(f"{where}.{missing.args[0]} is required") from None
    if document:
        raise ConfigError(f"{sorted(document)[0]} is not a section of the config (tenants, budgets)")
    if not provision.keys and not os.environ.get("ADMIN_API_KEY"):
        raise ConfigError(f"{path} gives no tenant an API key (and no ADMIN_API_KEY is set)")
    return provision


def fleet(url: str, namespace: str, name: str) -> tuple[RedisBackend, LedgerSequencer, ProvisionedStore]:
    """The Redis backend, the sequencer of a server's ledger on Redis (``--redis``) and the
    store of what the admin API provisions for the servers of that ledger."""
    from burnguard.redis import RedisBackend
    from burnguard.redis.provisioned import ProvisionedStore

    backend = RedisBackend.from_url(url, namespace=namespace)
    return backend, backend.sequencer(name, (300.0, 100_000)), ProvisionedStore(backend, name)
