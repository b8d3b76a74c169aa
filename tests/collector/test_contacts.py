"""Contacts (partners, commissioners, representatives): the CSV import, all or nothing; rounds
of contacts, their invitations, status and opt-out; and erasure, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from collector import contacts, db, flow, models, rounds
from collector.delivery import chats
from collector.models import utcnow
from collector.survey.loader import library_survey
from tests.collector.conftest import Run
from tests.collector.test_erasure import everywhere
from tests.factories import (
    make_contact,
    make_organisation,
    make_provider,
    make_round,
)

CONTACTS = (
    "external_ref,name,audience,organisation,email,consent_email,consent_telegram,"
    "preferred_channel\n"
    "PAR1,Alex Partner,partner,Leicestershire County Council,alex@leics.gov.uk,yes,no,email\n"
    "COM1,Chris Commissioner,Commissioner,NHS Leicester,chris@nhs.example,yes,no,\n"
    "REP1,Robin Rep,VCS representative,Health and Wellbeing Board,,no,yes,telegram\n"
)


def _count(session: Session, model: type[models.Base]) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _messages(error: contacts.CsvImportError) -> list[str]:
    return [str(p) for p in error.problems]


def test_a_good_contacts_file_is_imported_and_a_second_import_updates(session: Session) -> None:
    provider = make_provider(session)
    plan = contacts.import_csv(session, provider, CONTACTS)
    assert [r["external_ref"] for r in plan.new] == ["PAR1", "COM1", "REP1"] and not plan.updated
    rows = session.scalars(select(models.Contact).order_by(models.Contact.id)).all()
    assert [(c.audience, c.organisation) for c in rows] == [
        ("partner", "Leicestershire County Council"),
        ("commissioner", "NHS Leicester"),
        ("representative", "Health and Wellbeing Board"),
    ]
    alex = rows[0]
    assert (alex.name, alex.contact_email, alex.consent_email) == (
        "Alex Partner",
        "alex@leics.gov.uk",
        True,
    )
    assert rows[2].preferred_channel == "telegram" and rows[2].contact_email is None

    changed = CONTACTS.replace("Leicestershire County Council", "Leicester City Council")
    again = contacts.import_csv(session, provider, changed)
    assert not again.new and len(again.updated) == 3
    assert _count(session, models.Contact) == 3
    session.refresh(alex)
    assert alex.organisation == "Leicester City Council"


def test_a_bad_contacts_file_saves_nothing_and_lists_every_problem(session: Session) -> None:
    provider = make_provider(session)
    make_contact(session, provider, external_ref="OLD1", contact_email="taken@example.org")
    bad = (
        "external_ref,name,audience,organisation,email,consent_email\n"
        "PAR1,Alex,partner,County Council,alex@example.org,yes\n"  # good on its own
        "PAR2,Bea,councillor,County Council,bea@example.org,yes\n"  # unknown audience
        "PAR3,Cat,partner,,ALEX@example.org,yes\n"  # the same address as line 2
        "PAR4,Dan,,,dan@example.org,no\n"  # no audience
        "PAR5,Eve,commissioner,NHS,taken@example.org,yes\n"  # another contact's address
        "PAR1,Fay,partner,,fay@example.org,yes\n"  # the same reference again
        "PAR6,Gus,partner,,not-an-address,no\n"
        "PAR7,Hal,partner,,,yes\n"  # consent to email without an address
    )
    with pytest.raises(contacts.CsvImportError) as caught:
        contacts.import_csv(session, provider, bad)
    assert caught.value.message == "Nothing was imported: 7 problems in the file"
    assert _messages(caught.value) == [
        "line 3, column audience: 'councillor' is not an audience "
        "(use one of: partner, commissioner, representative)",
        "line 4, column email: the same address as line 2",
        "line 5, column audience: is empty (use one of: partner, commissioner, representative)",
        "line 6, column email: taken@example.org is already the address of contact OLD1: "
        "the same person twice?",
        "line 7, column external_ref: PAR1 appears again (first on line 2)",
        "line 8, column email: 'not-an-address' is not an email address",
        "line 9, column consent_email: consent to email given but no email address",
    ]
    assert _count(session, models.Contact) == 1  # only the one stored before


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("external_ref,name\n", "line 1, column audience: required column is missing"),
        ("external_ref,name,audience,phone\n", "line 1, column phone: unknown column"),
    ],
)
def test_a_contacts_file_with_bad_columns_is_refused(
    session: Session, header: str, message: str
) -> None:
    provider = make_provider(session)
    with pytest.raises(contacts.CsvImportError) as caught:
        contacts.import_csv(session, provider, header + "P1,Pat,partner\n")
    assert message in _messages(caught.value)
    assert _count(session, models.Contact) == 0


def test_an_erased_contacts_reference_cannot_be_imported_again(session: Session) -> None:
    provider = make_provider(session)
    contact = make_contact(session, provider, external_ref="PAR9")
    contacts.erase_contact(session, contact)
    with pytest.raises(contacts.CsvImportError) as caught:
        contacts.import_csv(session, provider, "external_ref,name,audience\nPAR9,Pat,partner\n")
    assert _messages(caught.value) == [
        "line 2, column external_ref: contact PAR9 was erased: their reference cannot be used again"
    ]


def test_a_round_of_contacts_invites_only_its_audiences_that_can_be_asked(
    session: Session,
) -> None:
    provider = make_provider(session)
    make_organisation(session, provider)  # a group: never in a round of contacts
    partner = make_contact(session, provider, audience="partner", organisation="County Council")
    commissioner = make_contact(session, provider, audience="commissioner", organisation="NHS")
    make_contact(session, provider, audience="representative")
    make_contact(session, provider, audience="partner", opted_out_at=utcnow())
    make_contact(session, provider, audience="partner", erased_at=utcnow())
    no_email = make_contact(session, provider, audience="partner", consent_email=False)
    round_ = make_round(
        session, provider, open_now=False, audience={"contacts": ["partner", "commissioner"]}
    )
    assert rounds.reach(session, round_) == rounds.Reach(total=3, email=2, telegram=0)
    assert rounds.open_round(session, round_, now=round_.opens_at) == 3
    invited = {i.contact_id for i in round_.invitations}
    assert invited == {partner.id, commissioner.id, no_email.id}
    assert all(i.organisation_id is None for i in round_.invitations)
    queued = session.scalars(
        select(models.OutboxMessage.recipient).order_by(models.OutboxMessage.id)
    ).all()
    assert queued == [partner.contact_email, commissioner.contact_email]

    # Answering copies who they are onto the response, as a group's segments are.
    invitation = next(i for i in round_.invitations if i.contact_id == partner.id)
    response = flow.start(session, invitation, channel="web")
    assert (response.audience, response.contact_org) == ("partner", "County Council")
    assert response.org_type is None

    status = rounds.round_status(session, round_)
    assert (status.total.invited, status.total.started) == (3, 1)
    assert {k: v.invited for k, v in status.by_segment["audience"].items()} == {
        "partner": 2,
        "commissioner": 1,
    }
    assert status.by_segment["contact_org"]["NHS"].invited == 1
    assert {n.contact_id for n in status.non_responders} == {
        partner.id,
        commissioner.id,
        no_email.id,
    }
    assert rounds.remind(session, round_) == 2  # the one with no address cannot be reached


def test_an_open_link_to_a_round_of_one_kind_of_contact_counts_its_answers_as_theirs(
    session: Session,
) -> None:
    provider = make_provider(session)
    make_contact(session, provider, audience="representative")
    make_contact(session, provider, audience="partner")
    make_contact(session, provider, audience="commissioner")
    one = make_round(session, provider, open_link=True, audience={"contacts": ["representative"]})
    two = make_round(
        session, provider, open_link=True, audience={"contacts": ["partner", "commissioner"]}
    )
    assert flow.start_anonymous(session, one).audience == "representative"
    # Of two kinds, an open link cannot tell which: the answer counts in the whole only.
    assert flow.start_anonymous(session, two).audience is None


@pytest.mark.parametrize(
    ("audience", "message"),
    [
        ({"contacts": ["councillor"]}, "Unknown contact audience: councillor"),
        ({"contacts": []}, "Unknown contact audience: none given"),
        (
            {"contacts": ["partner"], "org_type": ["faith_group"]},
            "A round asks either groups or contacts: leave out org_type",
        ),
    ],
)
def test_a_round_of_contacts_with_a_bad_audience_is_refused(
    session: Session, audience: dict[str, list[str]], message: str
) -> None:
    provider = make_provider(session)
    with pytest.raises(rounds.RoundError, match=message):
        make_round(session, provider, open_now=False, audience=audience)
    assert _count(session, models.Round) == 0


def test_a_contact_who_opts_out_is_not_asked_again(session: Session) -> None:
    provider = make_provider(session)
    contact = make_contact(session, provider)
    round_ = make_round(session, provider, audience={"contacts": ["partner"]})
    [invitation] = round_.invitations
    assert contacts.opt_out(session, contact) == 1
    assert session.scalar(select(models.OutboxMessage.status)) == "cancelled"
    with pytest.raises(flow.OptedOut):
        flow.start(session, invitation, channel="web")
    later = make_round(session, provider, audience={"contacts": ["partner"]})
    assert later.invitations == []
    contacts.opt_in(contact)
    assert len(make_round(session, provider, audience={"contacts": ["partner"]}).invitations) == 1


def test_erasing_a_contact_leaves_no_personal_field_and_keeps_their_choices(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    name, email, chat_id = "Ngozi Abernethy-Sharma", "ngozi.as@example.net", 5544332211
    with db.transaction(session_factory) as session:
        provider = make_provider(session)
        contact = make_contact(session, provider, name=name, contact_email=email)
        round_ = make_round(
            session, provider, library_survey("sector-voice"), audience={"contacts": ["partner"]}
        )
        [invitation] = round_.invitations
        chats.attach_invitation(session, chat_id, invitation)
        chat = chats.chat_for(session, chat_id)
        assert chat is not None
        assert chats.link_recipient(session, chat) is contact
        assert chat.contact_id == contact.id and contact.consent_telegram
        response = flow.start(session, invitation, channel="telegram")
        flow.answer(session, response, "compact_relations", "improved_a_lot")
        flow.answer(session, response, "sector_represented", "partly")
        flow.answer(session, response, "comments", f"From {name}, {email}")
        contact_id, response_id = contact.id, response.id
    assert everywhere(engine, name, email, str(chat_id))

    with db.transaction(session_factory) as session:
        contact = session.get(models.Contact, contact_id)
        assert contact is not None
        done = contacts.erase_contact(session, contact)
    assert (done.chats, done.messages, done.cancelled, done.answers) == (1, 1, 1, 1)
    assert everywhere(engine, name, email, str(chat_id)) == []
    with session_factory() as session:
        contact = session.get(models.Contact, contact_id)
        assert contact is not None and contact.erased_at is not None
        assert (contact.audience, contact.organisation) == (
            "partner",
            "County Council, Children's Services",
        )
        assert contacts.display_name(contact) == f"Erased contact #{contact_id}"
        assert rounds.choose_channel(contact, ["email", "telegram"]) is None
        answers = session.scalars(
            select(models.Answer.question_id).where(models.Answer.response_id == response_id)
        ).all()
        assert sorted(answers) == ["compact_relations", "sector_represented"]


def _setup(factory: sessionmaker[Session]) -> None:
    with db.transaction(factory) as session:
        make_provider(session, slug="val", name="Voluntary Action LeicesterShire")


def test_the_contacts_commands_import_list_opt_out_and_erase(
    run: Run, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    _setup(session_factory)
    bad = tmp_path / "bad.csv"
    bad.write_text(CONTACTS + "PAR2,Pat,mayor,,alex@leics.gov.uk,no,no,\n")
    result = run("contacts", "import", str(bad), "--provider", "val")
    assert result.exit_code == 1
    assert "Nothing was imported: 2 problems in the file" in result.output
    assert "line 5, column audience: 'mayor' is not an audience" in result.output
    assert "line 5, column email: the same address as line 2" in result.output
    assert "Traceback" not in result.output
    with session_factory() as session:
        assert _count(session, models.Contact) == 0

    good = tmp_path / "contacts.csv"
    good.write_text(CONTACTS)
    dry = run("contacts", "import", str(good), "--provider", "val", "--dry-run")
    assert "Would add 3 and would update 0 contacts for val." in dry.output
    done = run("contacts", "import", str(good), "--provider", "val")
    assert done.exit_code == 0 and "Added 3 and updated 0 contacts for val." in done.output
    listed = run("contacts", "list", "--provider", "val", "--audience", "partner")
    assert "Alex Partner" in listed.output and "Chris" not in listed.output
    assert "alex@leics.gov.uk" not in listed.output  # the channel, not the address

    created = run(
        "rounds", "create", "--provider", "val", "--survey", "funder-satisfaction",
        "--period", "2026/27 H1", "--opens", (utcnow() - timedelta(days=1)).date().isoformat(),
        "--closes", (utcnow() + timedelta(days=20)).date().isoformat(),
        "--audience", "contacts=partner,Commissioner",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "contacts who are partner or commissioner; 2 contacts today" in created.output
    unknown = run(
        "rounds", "create", "--provider", "val", "--survey", "funder-satisfaction",
        "--period", "2026/27 H1", "--opens", (utcnow() - timedelta(days=1)).date().isoformat(),
        "--closes", (utcnow() + timedelta(days=20)).date().isoformat(),
        "--audience", "contacts=mayor",
    )  # fmt: skip
    assert unknown.exit_code == 1 and "Unknown contacts 'mayor'" in unknown.output

    with session_factory() as session:
        round_id = session.scalars(select(models.Round.id)).one()
    opened = run("rounds", "open", str(round_id))
    assert opened.exit_code == 0, opened.output
    links = run("rounds", "links", str(round_id))
    assert links.output.startswith("external_ref,contact,contact_email,link")
    assert "PAR1,Alex Partner,alex@leics.gov.uk," in links.output and "REP1" not in links.output
    with db.transaction(session_factory) as session:
        invitation = session.scalars(
            select(models.Invitation)
            .join(models.Contact)
            .where(models.Contact.external_ref == "COM1")
        ).one()
        response = flow.start(session, invitation, channel="terminal")
        for question, value in (
            ("capacity_building_satisfaction", "satisfied"),
            ("sector_represented", "yes"),
            ("compact_relations", "improved_a_lot"),
            ("vcs_understanding", "excellent"),
            ("comments", None),
        ):
            flow.answer(session, response, question, value)
        flow.complete(session, response)
    status = run("rounds", "status", str(round_id))
    assert "commissioner" in status.output.lower() and "NHS Leicester" in status.output
    closed = run("rounds", "close", str(round_id))
    assert closed.exit_code == 0, closed.output
    with session_factory() as session:
        snapshot = session.scalars(select(models.ReportSnapshot)).one()
        assert snapshot.framework == "leicestershire-val"
        published = {k["id"]: k for k in snapshot.data["kpis"]}
    # One answer: VAL 12 is published, with nothing shown of it (fewer than 5 responses).
    assert published["VAL 12"]["overall"]["suppressed"]
    assert published["VAL 12"]["target"]["text"] == "≥ 90%"
    assert published["VAL 12"]["overall"]["n"] is None
    assert published["VAL 7"]["breakdowns"]["audience"][1]["suppressed"]

    with session_factory() as session:
        alex = session.scalars(
            select(models.Contact).where(models.Contact.external_ref == "PAR1")
        ).one()
    out = run("contacts", "opt-out", str(alex.id))
    assert out.exit_code == 0 and f"Contact {alex.id} opted out" in out.output
    erased = run("contacts", "erase", str(alex.id), "--yes")
    assert erased.exit_code == 0 and f"Erased contact {alex.id}." in erased.output
    missing = run("contacts", "erase", "999999", "--yes")
    assert missing.exit_code == 1 and "No contact 999999" in missing.output
    with session_factory() as session:
        actions = session.scalars(
            select(models.AuditEvent.action).order_by(models.AuditEvent.id)
        ).all()
        subjects = " ".join(
            s or "" for s in session.scalars(select(models.AuditEvent.subject)).all()
        )
    assert actions == [
        "contacts.import",
        "round.create",
        "round.open",
        "round.export_links",
        "round.close",
        "report.publish",
        "contact.opt_out",
        "contact.erase",
    ]
    assert "Alex" not in subjects  # audited by reference and number, never by name


@pytest.mark.parametrize("template", ["invite", "reminder"])
def test_a_contacts_email_and_telegram_message_speak_to_a_person_about_their_views(
    session: Session, template: str
) -> None:
    from bot.transport import invitation_text
    from collector.config import Settings
    from collector.delivery import mailer
    from collector.delivery.outbox import Outgoing

    provider = make_provider(session, name="Voluntary Action LeicesterShire")
    make_contact(session, provider, name="Alex Partner")
    round_ = make_round(session, provider, audience={"contacts": ["partner"]})
    [invitation] = round_.invitations
    data = rounds.message_data(round_, invitation)
    assert data["contact"] is True and data["organisation"] == "Alex Partner"
    settings = Settings(database_url="sqlite://", base_url="https://survey.example.org")
    outgoing = Outgoing(
        id=1,
        dedupe_key=f"{template}:1:email",
        channel="email",
        recipient="alex@example.org",
        template=template,
        data=data,
        attempts=1,
        claimed_until=utcnow() + timedelta(minutes=1),
    )
    email = mailer.render_email(settings, outgoing)
    for part in ("plain", "html"):
        body = email.get_body((part,))
        assert body is not None
        text = " ".join(body.get_content().split()).replace("&#39;", "'")
        assert "Hello Alex Partner," in text
        assert "like to hear your views on how the voluntary and community sector" in text
        assert "public-sector partners, commissioners and the sector's representatives" in text
        assert "groups like Alex Partner" not in text and "support it has given you" not in text
    message = invitation_text(settings, template, data)
    assert "would" in message and "hear your views" in message
    assert "support it has given you" not in message
