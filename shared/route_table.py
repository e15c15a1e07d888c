"""An app's routes, flat: which route template a path matches and which methods it allows.

Metrics label each request with its template (`/v1/requests/{request_id}`, never the raw path)
and a 405 names every method the path allows; both ask this table. FastAPI includes routers
lazily (one opaque route per `include_router`), so walking `app.router.routes` with Starlette's
`matches` only ever saw the included router, never the route inside it: every `/v1` request was
counted under one label, and a 405 named the methods of the first route of the path only.
`fastapi.routing.iter_route_contexts` gives each route with its full template and methods.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, compile_path
from starlette.types import Scope

#: The label of every path no route matches (one label: raw paths would be unbounded).
UNMATCHED = "unmatched"


@dataclass(frozen=True)
class _Entry:
    template: str
    regex: re.Pattern[str]
    methods: frozenset[str] | None  # None: any method (a mount)


class RouteTable:
    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.size = len(routes)
        self.entries: list[_Entry] = []
        for context in iter_route_contexts(routes):
            template = context.path_format
            if not template:
                continue
            regex = getattr(context, "path_regex", None) or compile_path(template)[0]
            methods = context.methods
            self.entries.append(
                _Entry(template, regex, frozenset(methods) if methods is not None else None)
            )

    @classmethod
    def of(cls, app: object) -> RouteTable:
        """The table of a FastAPI/Starlette app, made once (again if routes were added)."""
        routes: Sequence[BaseRoute] = getattr(getattr(app, "router", None), "routes", ())
        state = getattr(app, "state", None)
        table: RouteTable | None = getattr(state, "jiph_route_table", None)
        if table is None or table.size != len(routes):
            table = cls(routes)
            if state is not None:
                state.jiph_route_table = table
        return table

    def template(self, path: str, method: str) -> str:
        """The template the router would pick for `method path` (a route of the path that does
        not take the method counts: that request is answered 405 there), else UNMATCHED."""
        partial: str | None = None
        for entry in self.entries:
            if not entry.regex.match(path):
                continue
            if entry.methods is None or method in entry.methods:
                return entry.template
            partial = partial or entry.template
        return partial or UNMATCHED

    def allowed(self, path: str) -> list[str]:
        """Every method some route of `path` takes, sorted (for `Allow`)."""
        methods: set[str] = set()
        for entry in self.entries:
            if entry.methods is not None and entry.regex.match(path):
                methods |= entry.methods
        return sorted(methods)


def route_path(scope: Scope) -> str:
    """The path the router matches: the request's, without the app's `root_path`."""
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root) :] if root and path.startswith(root) else path
