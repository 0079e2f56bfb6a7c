"""What `burnguard serve`'s admin API provisions, shared by the servers of one fleet ledger
(``burnguard serve --redis``): tenants, API keys (their SHA-256 only, with names, expiries,
permissions and revocations) and when each budget was made, as one JSON document and its
version in a Redis hash. A server saves a change only over the version it read
(``scripts.PROVISIONED_SAVE``); one that finds another's saved first reads it and makes its
change again, so two servers never undo each other's. Each server reads a newer version
within about a second (``CyclesServer.refresh_provisioned``), and at every change it makes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from burnguard.redis import scripts

if TYPE_CHECKING:
    from burnguard.redis.backend import RedisBackend


class ProvisionedStore:
    """The provisioned document of the fleet ledger ``name``'s servers, in Redis."""

    __slots__ = ("_backend", "key")

    def __init__(self, backend: RedisBackend, name: str) -> None:
        self._backend = backend
        self.key = backend.key("serve:" + name) + ":provisioned"
        """The Redis hash holding it."""

    def load(self) -> tuple[int, str | None]:
        """The version and the document (0 and None before any server saved one)."""
        version, doc = self._backend.client_for(self.key).hmget(self.key, "version", "doc")
        text = doc.decode() if isinstance(doc, bytes) else doc
        return int(version or 0), text

    def save(self, version: int, doc: str) -> bool:
        """Saves ``doc`` as the version after ``version``, unless another server saved since."""
        client = self._backend.client_for(self.key)
        return bool(self._backend.run_script(client, scripts.PROVISIONED_SAVE, [self.key], [version, doc]))
