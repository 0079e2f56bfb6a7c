"""The base of burnguard's result dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any


class Result:
    """Mixin for frozen result dataclasses: ``to_dict()`` for logs and webhooks."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (nested results too)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]
