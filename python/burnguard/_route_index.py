"""Finding the Starlette route a request will reach, at a cost that does not grow with the app.

The ASGI adapter must know a request's route template before the handler runs (to admit it
against the route's breaker and budget). Calling every route's ``matches`` in order, as the
router does, costs about two microseconds per route. A ``RouteIndex`` files each route under the
literal segments its template starts with (``/api/users/{uid}`` under ``api`` → ``users``), so a
request only tries the routes whose literal prefix is a prefix of its path, in the router's
order. Plain ``Route``, ``Mount`` and FastAPI ``APIRoute`` entries are tried with their compiled
``path_regex`` and ``methods`` (what their ``matches`` decides, without building a child scope);
any other route (``Host``, a custom ``matches``) through its own ``matches``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from starlette.routing import Match, Mount, Route

Scope = Any

_ROUTE, _MOUNT, _OTHER = 0, 1, 2


def _kind(route: Any) -> int:
    matches = getattr(type(route), "matches", None)
    if matches is Mount.matches:
        return _MOUNT
    if matches is Route.matches:
        return _ROUTE
    fastapi = sys.modules.get("fastapi.routing")
    # APIRoute.matches is Route.matches while no FastAPI route context is in the scope, as
    # before the router runs.
    if fastapi is not None and matches is getattr(getattr(fastapi, "APIRoute", None), "matches", None):
        return _ROUTE
    return _OTHER


def _joined(prefix: str, route: Any) -> str | None:
    path = getattr(route, "path", None)
    return prefix + path if isinstance(path, str) else None


def _literal_prefix(entry: _Entry, prefix: str) -> tuple[str, ...]:
    """The literal path segments that start every path the entry matches below its router's
    mount point (may be none)."""
    path = entry.template
    if entry.kind == _OTHER or not isinstance(path, str) or not path.startswith(prefix + "/"):
        return ()
    literal = []
    for segment in path[len(prefix) + 1 :].split("/"):
        if "{" in segment:
            break
        literal.append(segment)
    return tuple(literal)


class _Entry:
    __slots__ = ("kind", "methods", "position", "regex", "route", "template")

    def __init__(self, position: int, route: Any, path: Any) -> None:
        self.position = position
        self.route = route
        self.kind = _kind(route)
        self.regex: Any = getattr(route, "path_regex", None)
        self.methods: Any = getattr(route, "methods", None)
        self.template: Any = path


def _entries(routes: Sequence[Any], prefix: str) -> list[_Entry]:
    """One entry per route, in the router's order. A router FastAPI includes (0.12x and later
    keep it as one entry) is expanded into the routes it dispatches to, with their full
    templates."""
    entries: list[_Entry] = []
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if not callable(contexts):
            entries.append(_Entry(len(entries), route, _joined(prefix, route)))
            continue
        for context in contexts():
            if context.path_regex is None:
                route = context.starlette_route
                entries.append(_Entry(len(entries), route, _joined(prefix, route)))
                continue
            entry = _Entry(len(entries), context, prefix + context.path_format)
            entry.kind = _ROUTE
            entries.append(entry)
    return entries


class _Node:
    __slots__ = ("children", "entries")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.entries: list[_Entry] = []


class RouteIndex:
    """The routes of one router, filed by literal prefix. Build a new one when the routes
    change (``current`` tells). ``prefix`` is the template of the mount the router is under."""

    __slots__ = ("_mounts", "_needs_scope", "_prefix", "_root", "cacheable", "flat", "routes", "size")

    def __init__(self, routes: Sequence[Any], prefix: str = "") -> None:
        self.routes = routes
        self.size = len(routes)
        self._prefix = prefix
        self._root = _Node()
        self._mounts: dict[int, tuple[Mount, RouteIndex]] = {}  # by id(mount)
        entries = _entries(routes, prefix)
        for entry in entries:
            node = self._root
            for segment in _literal_prefix(entry, prefix):
                node = node.children.setdefault(segment, _Node())
            node.entries.append(entry)
            if entry.kind == _MOUNT:
                self._mounts[id(entry.route)] = (entry.route, RouteIndex(entry.route.routes, entry.template))
        # Routes tried through their own ``matches`` need the scope their router would give them.
        self._needs_scope = any(entry.kind == _OTHER for entry in entries)
        self.cacheable: bool = not self._needs_scope and all(i.cacheable for _, i in self._mounts.values())
        """Whether the answer depends on the method and path alone (no route with its own
        ``matches``, which may look at headers), so callers may keep it by (method, path)."""
        self.flat = not self._mounts
        """No mounts: ``current`` is ``routes is self.routes and len(routes) == self.size``,
        which a caller on the request path may test inline."""

    def current(self, routes: Sequence[Any]) -> bool:
        """Whether this index still describes ``routes`` (and the routes of its mounts)."""
        if routes is not self.routes or len(routes) != self.size:
            return False
        return not self._mounts or all(inner.current(mount.routes) for mount, inner in self._mounts.values())

    def match(self, scope: Scope) -> str | None:
        """The template of the route the router picks for ``scope``: the first full match,
        else the first partial one (a 405), else None."""
        return self._find(_route_path(scope), scope["method"], scope)

    def _find(self, path: str, method: str, scope: Scope) -> str | None:
        node = self._root
        candidates = node.entries
        merged = False
        for segment in path[1:].split("/"):
            child = node.children.get(segment)
            if child is None:
                break
            node = child
            if node.entries:
                merged = merged or bool(candidates)
                candidates = candidates + node.entries if candidates else node.entries
        if merged:
            candidates = sorted(candidates, key=_position)
        partial = None
        for entry in candidates:
            if entry.kind == _OTHER:
                matched, child = entry.route.matches(scope)
                template = getattr(child.get("route", entry.route), "path", None)
                if matched is Match.FULL:
                    # The router dispatches here; a route without a template is unmatched.
                    return self._prefix + template if isinstance(template, str) else None
                if matched is Match.PARTIAL and isinstance(template, str):
                    partial = partial or self._prefix + template
                continue
            found = entry.regex.match(path)
            if found is None:
                continue
            if entry.kind == _MOUNT:
                return self._inside(entry, "/" + found["path"], method, scope)
            if not entry.methods or method in entry.methods:
                return entry.template  # type: ignore[no-any-return]
            partial = partial or entry.template
        return partial

    def _inside(self, entry: _Entry, rest: str, method: str, scope: Scope) -> str | None:
        """The template of the route under a mount (the mount's own if none of its routes)."""
        mount = entry.route
        routes = mount.routes
        if not routes:
            return entry.template  # type: ignore[no-any-return]
        inner = self._mounts[id(mount)][1]
        if not inner.current(routes):
            inner = RouteIndex(routes, entry.template)
            self._mounts[id(mount)] = (mount, inner)
        inner_scope = {**scope, **mount.matches(scope)[1]} if inner._needs_scope else scope
        return inner._find(rest, method, inner_scope) or entry.template


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point, as Starlette's router reads it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if not root or not path.startswith(root):
        return path
    if path == root:
        return ""
    return path[len(root) :] if path[len(root)] == "/" else path


def _position(entry: _Entry) -> int:
    return entry.position
