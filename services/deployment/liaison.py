"""What a force liaison officer may see of a deployment: their own force's officers, and nothing
that names another force's (DESIGN §5, need-to-know). Pure: a view in, a view out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Timeline details naming one officer, or several.
_ONE_OFFICER = ("officer_ref", "replaced_by")
_OFFICERS = ("officer_refs", "released_officer_refs")


def liaison_view(view: Mapping[str, Any], force: str | None) -> dict[str, Any] | None:
    """The deployment as `force`'s liaison officer sees it, or None when none of its officers is
    theirs (then, to them, it does not exist). Posts are left out (they name whoever fills them);
    timeline entries about another force's officer go, and lists of officers keep theirs only."""
    own = [o for o in view.get("officers", []) if o["force"] == force]
    if not own:
        return None
    refs = {o["officer_ref"] for o in own}
    timeline = [e for e in (_entry_for(e, refs) for e in view.get("timeline", [])) if e]
    return {**view, "officers": own, "posts": [], "timeline": timeline}


def _entry_for(entry: Mapping[str, Any], refs: set[str]) -> dict[str, Any] | None:
    details = dict(entry.get("details") or {})
    if details.get("officer_ref") not in (None, *refs):
        return None  # about another force's officer
    for name in _ONE_OFFICER:
        if details.get(name) is not None and details[name] not in refs:
            del details[name]
    for name in _OFFICERS:
        if name in details:
            details[name] = [r for r in details[name] or [] if r in refs]
    return {**entry, "details": details}
