"""Rounds, invitations and frozen survey versions."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from collector import models, rounds
from collector.errors import NotFound
from collector.models import utcnow
from collector.survey.store import SurveyChanged, definition, register
from tests.factories import (
    cvs_support,
    every_type_survey,
    make_organisation,
    make_provider,
    make_round,
)


def test_opening_a_round_invites_its_audience_minus_the_opted_out(session: Session) -> None:
    provider = make_provider(session)
    faith = make_organisation(session, provider, org_type="faith_group")
    make_organisation(session, provider, org_type="registered_charity")
    make_organisation(session, provider, org_type="faith_group", opted_out_at=utcnow())
    make_organisation(session, make_provider(session), org_type="faith_group")  # not ours
    round_ = make_round(session, provider, audience={"org_type": ["faith_group"]})
    assert [i.organisation_id for i in round_.invitations] == [faith.id]
    assert round_.status == "open"


def test_audience_by_outcome_area_matches_whole_slugs(session: Session) -> None:
    provider = make_provider(session)
    lives = make_organisation(session, provider, outcomes="healthy_lifestyles good_lives")
    make_organisation(session, provider, outcomes="weight_management")
    round_ = make_round(session, provider, audience={"outcomes": ["good_lives"]})
    assert [i.organisation_id for i in round_.invitations] == [lives.id]


def test_tokens_are_long_random_and_unique(session: Session) -> None:
    provider = make_provider(session)
    for _ in range(30):
        make_organisation(session, provider)
    round_ = make_round(session, provider)
    tokens = [i.token for i in round_.invitations]
    assert len(set(tokens)) == 30
    assert all(rounds.looks_like_token(t) and len(t) == 32 for t in tokens)  # 192 bits
    assert rounds.invitation_by_token(session, tokens[0]).id == round_.invitations[0].id
    assert rounds.redact_token(tokens[0]) == tokens[0][:6] + "…"


@pytest.mark.parametrize("token", ["", "short", "x" * 32 + "y", "../../etc/passwd", "A" * 32])
def test_unknown_or_malformed_tokens_are_simply_not_found(session: Session, token: str) -> None:
    with pytest.raises(NotFound, match="This link is not valid"):
        rounds.invitation_by_token(session, token)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"closes_at": utcnow() - timedelta(days=5)}, "close date must be after the open date"),
        ({"audience": {"colour": ["red"]}}, "Unknown audience filter: colour"),
        ({"period_label": "  "}, "period label"),
    ],
)
def test_bad_rounds_are_refused(
    session: Session, overrides: dict[str, object], message: str
) -> None:
    provider = make_provider(session)
    with pytest.raises(rounds.RoundError, match=message):
        make_round(session, provider, **overrides)


def test_a_round_opens_once_and_closes_once(session: Session) -> None:
    round_ = make_round(session, make_provider(session))
    with pytest.raises(rounds.RoundError, match="not a draft"):
        rounds.open_round(session, round_)
    rounds.close_round(session, round_)
    assert round_.status == "closed" and round_.closed_at is not None
    with pytest.raises(rounds.RoundError, match="not open"):
        rounds.close_round(session, round_)


def test_a_survey_version_used_by_a_round_is_frozen(session: Session) -> None:
    survey = every_type_survey()
    round_ = make_round(session, make_provider(session), survey)
    assert round_.survey.frozen_at is not None
    assert register(session, survey).id == round_.survey_id  # same definition: same row
    edited = dataclasses.replace(survey, minutes=9)
    with pytest.raises(SurveyChanged, match="Give the changed definition a new version"):
        register(session, edited)
    stored = session.scalar(select(models.Survey).where(models.Survey.id == round_.survey_id))
    assert stored is not None and definition(stored).minutes == survey.minutes
    newer = register(session, dataclasses.replace(survey, version=2, minutes=9))
    assert (newer.version, newer.frozen_at) == (2, None)


def test_a_draft_survey_version_may_still_change(session: Session) -> None:
    survey = every_type_survey()
    row = register(session, survey)
    register(session, dataclasses.replace(survey, minutes=7))
    assert definition(row).minutes == 7


def test_a_token_never_starts_with_a_dash_so_a_command_line_takes_it_as_a_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn = iter(["-" + "a" * 31, "b" * 32])
    monkeypatch.setattr(rounds.secrets, "token_urlsafe", lambda n: next(drawn))
    assert rounds.new_token() == "b" * 32


def test_an_open_round_of_the_same_survey_for_some_of_the_same_groups_is_an_overlap(
    session: Session,
) -> None:
    provider = make_provider(session)
    faith = [make_organisation(session, provider, org_type="faith_group") for _ in range(2)]
    make_organisation(session, provider, org_type="registered_charity")
    running = make_round(session, provider, period_label="2026/27 H1")
    make_round(session, provider, cvs_support())  # another survey: no matter
    make_round(session, make_provider(session))  # another provider's: no matter
    opens = utcnow() + timedelta(days=1)

    (overlap,) = rounds.overlapping_rounds(
        session,
        provider_id=provider.id,
        survey_slug=running.survey.slug,
        audience={"org_type": ["faith_group"]},
        opens_at=opens,
    )
    assert (overlap.round_id, overlap.groups) == (running.id, len(faith))
    assert overlap.describe().startswith(f"Round {running.id} (2026/27 H1) of ")
    assert "already invited 2 of these groups: they would get a second invitation" in (
        overlap.describe()
    )
    # Not once it has closed by the new round's open date, nor once it is closed.
    after = running.closes_at + timedelta(seconds=1)
    assert not rounds.overlapping_rounds(
        session, provider_id=provider.id, survey_slug=running.survey.slug, audience={},
        opens_at=after,
    )  # fmt: skip
    rounds.close_round(session, running)
    assert not rounds.overlapping_rounds(
        session, provider_id=provider.id, survey_slug=running.survey.slug, audience={},
        opens_at=opens,
    )  # fmt: skip


def test_whom_a_query_counts_as_reachable_is_whom_contact_address_reaches(
    session: Session,
) -> None:
    import itertools

    from tests.factories import make_volunteer

    provider = make_provider(session)
    now = utcnow()
    recipients: list[rounds.Recipient] = []
    chats = (None, "reachable", "stopped", "unreachable")
    for volunteer, consent_email, email, consent_telegram, chat_state, erased in itertools.product(
        (False, True),
        (True, False),
        (None, "", "a@example.org"),
        (True, False),
        chats,
        (False, True),
    ):
        if erased and not volunteer:
            continue  # only a volunteer's record is erased
        fields = {
            "consent_email": consent_email,
            "contact_email": email,
            "consent_telegram": consent_telegram,
        }
        recipient: rounds.Recipient
        if volunteer:
            recipient = make_volunteer(
                session, provider, erased_at=now if erased else None, **fields
            )
        else:
            recipient = make_organisation(session, provider, **fields)
        if chat_state is not None:
            owner = "volunteer" if isinstance(recipient, models.Volunteer) else "organisation"
            session.add(
                models.TelegramChat(
                    chat_id=10_000 + len(recipients),
                    stopped_at=now if chat_state == "stopped" else None,
                    unreachable_at=now if chat_state == "unreachable" else None,
                    **{owner: recipient},
                )
            )
        recipients.append(recipient)
    session.flush()
    for recipient in recipients:
        session.refresh(recipient)
    for kind in (models.Organisation, models.Volunteer):
        for channel in ("email", "telegram", "web"):
            found = set(session.scalars(select(kind.id).where(rounds.reachable_on(kind, channel))))
            expected = {
                r.id
                for r in recipients
                if isinstance(r, kind) and rounds.contact_address(r, channel) is not None
            }
            assert found == expected, (kind.__name__, channel)
            assert channel == "web" or expected  # each channel reaches someone of each kind


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"closes_at": utcnow() - timedelta(days=5)}, "closes"),
        ({"channels": ["fax"]}, "channels"),
        ({"reminder_days": [0]}, "reminders"),
        ({"reminder_days": [31]}, "reminders"),
        ({"audience": {"colour": ["red"]}}, "audience"),
        ({"period_label": "  "}, "period_label"),
    ],
)
def test_a_refused_round_names_the_detail_at_fault(
    session: Session, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(rounds.RoundError) as refused:
        make_round(session, make_provider(session), open_now=False, **overrides)
    assert refused.value.field == field


def test_a_reminder_falls_after_the_open_and_before_the_close() -> None:
    opens = utcnow()
    closes = opens + timedelta(days=14)
    assert [d for d in range(16) if rounds.reminder_in_round(opens, closes, d)] == list(
        range(1, 14)
    )
