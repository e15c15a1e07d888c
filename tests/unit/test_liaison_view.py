"""A force liaison officer's view of a deployment names no other force's officer."""

from __future__ import annotations

from services.deployment.liaison import liaison_view


def _view() -> dict:
    return {
        "id": "d-1",
        "officers": [
            {"officer_ref": "OFF-N1", "force": "north"},
            {"officer_ref": "OFF-S1", "force": "south"},
        ],
        "posts": [{"post_id": "p1", "officer_ref": "OFF-N1"}],
        "timeline": [
            {"event": "DeploymentPlanned", "details": {"headcount": 2}},
            {"event": "OfficerNominated", "details": {"officer_ref": "OFF-N1", "force": "north"}},
            {"event": "OfficerNominated", "details": {"officer_ref": "OFF-S1", "force": "south"}},
            {
                "event": "NominationWithdrawn",
                "details": {"officer_ref": "OFF-S1", "reason": "failed", "replaced_by": "OFF-N2"},
            },
            {"event": "DeploymentStarted", "details": {"officer_refs": ["OFF-N1", "OFF-S1"]}},
            {"event": "DeploymentCancelled", "details": {"released_officer_refs": None}},
        ],
    }


def test_a_liaison_sees_their_own_officers_and_no_other_force_s() -> None:
    seen = liaison_view(_view(), "south")
    assert seen is not None
    assert seen["officers"] == [{"officer_ref": "OFF-S1", "force": "south"}]
    assert seen["posts"] == []
    assert [e["event"] for e in seen["timeline"]] == [
        "DeploymentPlanned",
        "OfficerNominated",
        "NominationWithdrawn",
        "DeploymentStarted",
        "DeploymentCancelled",
    ]
    assert "OFF-N" not in repr(seen)  # neither the nominee, the replacement nor the list
    assert seen["timeline"][2]["details"] == {"officer_ref": "OFF-S1", "reason": "failed"}


def test_a_deployment_without_their_officers_does_not_exist_for_them() -> None:
    assert liaison_view(_view(), "east") is None
    assert liaison_view(_view(), None) is None


def test_the_view_given_is_left_as_it_was() -> None:
    view = _view()
    liaison_view(view, "south")
    assert view == _view()
