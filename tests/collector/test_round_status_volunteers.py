"""A follow-up round's status counts its volunteers as well as its host groups."""

from __future__ import annotations

from sqlalchemy.orm import Session

from collector import flow, models, rounds
from tests.factories import make_placement, make_provider, make_round, make_volunteer


def test_round_status_counts_volunteer_invitations(session: Session) -> None:
    provider = make_provider(session)
    round_ = make_round(session, provider, audience={"district": ["Nowhere"]})
    assert round_.invitations == []
    answered, waiting = (
        make_volunteer(session, provider, district="Harlow"),
        make_volunteer(session, provider, district="Epping Forest"),
    )
    invitations = []
    for volunteer in (answered, waiting):
        placement = make_placement(session, provider, volunteer)
        invitation = models.Invitation(
            round=round_, volunteer=volunteer, placement=placement, token=rounds.new_token()
        )
        session.add(invitation)
        invitations.append(invitation)
    session.flush()
    response = flow.start(session, invitations[0], channel="telegram")
    response.status = "completed"
    session.flush()

    status = rounds.round_status(session, round_)

    assert (status.total.invited, status.total.started, status.total.completed) == (2, 1, 1)
    assert status.by_segment["district"]["Harlow"].completed == 1
    assert status.by_segment["district"]["Epping Forest"].invited == 1
    assert status.by_channel == {"telegram": 1}
    assert [(n.volunteer_id, n.organisation_id) for n in status.non_responders] == [
        (waiting.id, None)
    ]
