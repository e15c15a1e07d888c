"""A query parameter a route does not declare is a 422 naming it, on every operation of every
service (`StrictQuery`, a dependency of each service's app: `shared.service`)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from shared.problems import Problem

_KNOWN_QUERY: dict[int, frozenset[str]] = {}


def _known_query(route: Any) -> frozenset[str]:
    known = _KNOWN_QUERY.get(id(route))
    if known is None:
        names: set[str] = set()
        pending = [route.dependant]
        while pending:  # the route's parameters and those of every dependency, at any depth
            dependant = pending.pop()
            names.update(str(p.alias) for p in dependant.query_params)
            pending.extend(dependant.dependencies)
        known = _KNOWN_QUERY[id(route)] = frozenset(names)
    return known


async def refuse_unknown_query(request: Request) -> None:
    """A query parameter the route does not declare is a 422 naming it: a misspelt filter
    (`?contry=SO`) would otherwise answer every item as if no filter had been asked for. Every
    service's app depends on it (shared.service), so every documented operation refuses what it
    does not declare; pages outside the API's schema (the dashboard, the docs) take whatever the
    browser keeps in their URL."""
    route = request.scope.get("route")
    if getattr(route, "dependant", None) is None or not getattr(route, "include_in_schema", True):
        return
    unknown = sorted(set(request.query_params) - _known_query(route))
    if unknown:
        raise Problem(
            422,
            "validation-error",
            "Invalid request",
            f"{len(unknown)} problem(s) with: " + ", ".join(f"query.{n}" for n in unknown),
            errors=[{"field": f"query.{n}", "message": "unknown query parameter"} for n in unknown],
        )


StrictQuery = Depends(refuse_unknown_query)
