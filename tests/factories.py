"""Small factories with overrides, for building just the rows a test needs."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from collector import models, rounds
from collector.models import utcnow
from collector.survey.loader import library_survey, load_survey_text, survey_from_dict
from collector.survey.model import Survey
from collector.survey.store import register

_counter = itertools.count(1)

# A survey with one question of every type, skip logic and a constraint.
EVERY_TYPE = """
id: every-type
version: 1
title: {en: Every type, cy: Pob math}
languages: [en, cy]
minutes: 2
choices:
  yes_no:
    - {value: "yes", label: {en: "Yes", cy: "Ie"}}
    - {value: "no", label: {en: "No", cy: "Na"}}
  ease:
    - {value: easy, label: {en: Easy, cy: Hawdd}}
    - {value: hard, label: {en: Hard, cy: Anodd}}
  kinds:
    - {value: funding, label: {en: Funding, cy: Cyllid}}
    - {value: training, label: {en: Training, cy: Hyfforddiant}}
    - {value: none, label: {en: None of these, cy: Dim un}}
questions:
  - id: intro
    type: note
    label: {en: Welcome, cy: Croeso}
  - id: used
    type: single
    choices: yes_no
    label: {en: "Did you use us?", cy: "Wnaethoch chi ein defnyddio?"}
  - id: ease
    type: scale
    choices: ease
    relevant: "${used} = 'yes'"
    label: {en: "How easy?", cy: "Pa mor hawdd?"}
  - id: kinds
    type: multiple
    choices: kinds
    relevant: "${used} = 'yes'"
    constraint: "not(selected(., 'none') and count-selected(.) > 1)"
    constraint_message: {en: "'None of these' goes on its own", cy: "Dim un ar ei ben ei hun"}
    label: {en: "Which kinds?", cy: "Pa fathau?"}
  - id: volunteers
    type: integer
    min: 0
    max: 500
    label: {en: "How many volunteers?", cy: "Faint o wirfoddolwyr?"}
  - id: share
    type: decimal
    required: false
    label: {en: "What share came through us?", cy: "Pa gyfran?"}
  - id: comments
    type: text
    required: false
    label: {en: "Anything else?", cy: "Unrhyw beth arall?"}
"""


def every_type_survey() -> Survey:
    """Give the test survey with every question type."""
    return load_survey_text(EVERY_TYPE, source="every-type.yaml")


def make_provider(session: Session, **overrides: Any) -> models.Provider:
    """Add a provider."""
    n = next(_counter)
    values: dict[str, Any] = {"slug": f"cvs-{n}", "name": f"Test CVS {n}", "district": "Harlow"}
    values.update(overrides)
    provider = models.Provider(**values)
    session.add(provider)
    session.flush()
    return provider


def make_organisation(
    session: Session, provider: models.Provider, **overrides: Any
) -> models.Organisation:
    """Add an organisation with ordinary segment attributes."""
    n = next(_counter)
    values: dict[str, Any] = {
        "provider": provider,
        "external_ref": f"ORG{n:05d}",
        "name": f"Group {n}",
        "org_type": "community_group",
        "income_band": "under_10k",
        "district": "Harlow",
        "outcomes": "healthy_lifestyles good_lives",
        "is_member": True,
        "contact_email": f"group{n}@example.org",
        "consent_email": True,
    }
    values.update(overrides)
    organisation = models.Organisation(**values)
    session.add(organisation)
    session.flush()
    return organisation


def make_round(
    session: Session,
    provider: models.Provider,
    survey: Survey | None = None,
    *,
    open_now: bool = True,
    **overrides: Any,
) -> models.Round:
    """Add a round of `survey` (default: the every-type survey), open unless told otherwise."""
    now = utcnow()
    values: dict[str, Any] = {
        "period_label": "2026/27 H1",
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=30),
    }
    values.update(overrides)
    row = register(session, survey or every_type_survey())
    round_ = rounds.create_round(session, provider=provider, survey=row, **values)
    if open_now:
        rounds.open_round(session, round_, now=values["opens_at"])
    return round_


def make_invitation(session: Session, **overrides: Any) -> models.Invitation:
    """Add a provider, an organisation and an open round, and give the organisation's invitation."""
    provider = overrides.pop("provider", None) or make_provider(session)
    organisation = overrides.pop("organisation", None) or make_organisation(session, provider)
    survey = overrides.pop("survey", None)
    round_ = make_round(session, provider, survey, audience={}, **overrides)
    invitation = next(i for i in round_.invitations if i.organisation_id == organisation.id)
    return invitation


def cvs_support() -> Survey:
    """Give the built-in cvs-support survey."""
    return library_survey("cvs-support")


def english_only(survey: Survey) -> Survey:
    """Give a copy of a survey with its English text only (the built-in ones are in Welsh and
    Urdu too), under its own id, so that it is never taken for the survey it copies."""

    def strip(value: Any) -> Any:
        texts = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        if texts and "en" in value:
            return {"en": value["en"]}
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    data = strip(survey.to_dict())
    data["id"] = f"{survey.id}-english"
    data["languages"] = ["en"]
    data.pop("drafts", None)
    return survey_from_dict(data)


def make_volunteer(
    session: Session, provider: models.Provider, **overrides: Any
) -> models.Volunteer:
    """Add a volunteer who consented to be asked about placements by email."""
    n = next(_counter)
    values: dict[str, Any] = {
        "provider": provider,
        "external_ref": f"VOL{n:05d}",
        "name": f"Volunteer {n}",
        "contact_email": f"volunteer{n}@example.org",
        "district": "Harlow",
        "consent": True,
        "consent_at": utcnow() - timedelta(days=30),
        "consent_email": True,
    }
    values.update(overrides)
    volunteer = models.Volunteer(**values)
    session.add(volunteer)
    session.flush()
    return volunteer


def make_enquiry(session: Session, provider: models.Provider, **overrides: Any) -> models.Enquiry:
    """Add a volunteer enquiry (pending, by phone, today unless told otherwise)."""
    n = next(_counter)
    values: dict[str, Any] = {
        "provider": provider,
        "external_ref": f"ENQ{n:05d}",
        "enquired_on": date.today(),
        "source": "phone",
        "district": "Harlow",
        "outcome": "pending",
    }
    values.update(overrides)
    enquiry = models.Enquiry(**values)
    session.add(enquiry)
    session.flush()
    return enquiry


def make_placement(
    session: Session,
    provider: models.Provider,
    volunteer: models.Volunteer | None = None,
    organisation: models.Organisation | None = None,
    **overrides: Any,
) -> models.Placement:
    """Add an active placement (a volunteer and a host group are made when not given)."""
    n = next(_counter)
    values: dict[str, Any] = {
        "provider": provider,
        "external_ref": f"PLA{n:05d}",
        "volunteer": volunteer or make_volunteer(session, provider),
        "organisation": organisation or make_organisation(session, provider),
        "role": "Befriender",
        "starts_on": date.today(),
        "status": "active",
    }
    values.update(overrides)
    placement = models.Placement(**values)
    session.add(placement)
    session.flush()
    return placement


def make_contact(session: Session, provider: models.Provider, **overrides: Any) -> models.Contact:
    """Add a contact: a public-sector partner who consented to be asked by email."""
    n = next(_counter)
    values: dict[str, Any] = {
        "provider": provider,
        "external_ref": f"CON{n:05d}",
        "name": f"Contact {n}",
        "audience": "partner",
        "organisation": "County Council, Children's Services",
        "contact_email": f"contact{n}@example.org",
        "consent_email": True,
    }
    values.update(overrides)
    contact = models.Contact(**values)
    session.add(contact)
    session.flush()
    return contact


def answer_self_evaluation(
    session: Session,
    invitation: models.Invitation,
    ratings: dict[str, str] | None = None,
    *,
    default: str = "minimum",
    prioritise: tuple[str, ...] = (),
    evidence: str | None = None,
    comment: str | None = None,
    channel: str = "web",
    now: datetime | None = None,
) -> models.Response:
    """Answer a self-evaluation invitation through the flow and submit it: `ratings` by
    question id (others get `default`), the questions in `prioritise` marked for follow-up."""
    from collector import flow

    response = flow.start(session, invitation, channel=channel, now=now)
    fill_self_evaluation(
        session,
        response,
        ratings,
        default=default,
        prioritise=prioritise,
        evidence=evidence,
        comment=comment,
        now=now,
    )
    done = flow.complete(session, response, now=now)
    assert isinstance(done, flow.DoneView), done
    return response


def fill_self_evaluation(
    session: Session,
    response: models.Response,
    ratings: dict[str, str] | None = None,
    *,
    default: str = "minimum",
    prioritise: tuple[str, ...] = (),
    evidence: str | None = None,
    comment: str | None = None,
    now: datetime | None = None,
) -> None:
    """Answer a started self-evaluation's remaining questions through the flow, up to "check
    your answers" (see `answer_self_evaluation`)."""
    from collector import flow
    from collector.selfeval import COMMENT, EVIDENCE, PRIORITY, QUESTIONS

    ratings = ratings or {}
    for _ in range(200):
        view = flow.view(session, response)
        if not isinstance(view, flow.QuestionView):
            break
        qid = view.question_id
        raw: str | None = None
        if qid in QUESTIONS:
            raw = ratings.get(qid, default)
        elif qid.endswith(EVIDENCE):
            raw = evidence
        elif qid.endswith(COMMENT):
            raw = comment
        elif qid.endswith(PRIORITY):
            raw = "yes" if qid.removesuffix(PRIORITY) in prioritise else "no"
        flow.answer(session, response, qid, raw, now=now)
