"""Webhooks: events queued per webhook that wants them, signed deliveries to a receiver on
loopback that checks the signature, and a dispatcher killed mid-delivery that still delivers
every event."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from collector import db, flow, models, rounds, users
from collector.config import Settings
from collector.delivery import webhooks
from tests.conftest import _free_port
from tests.e2e.test_dispatcher_kill import finish, start_dispatcher
from tests.factories import make_organisation, make_provider, make_round


def _complete(session: Session, invitation: models.Invitation) -> None:
    response = flow.start(session, invitation, channel="web")
    for _ in range(20):
        view = flow.view(session, response)
        if not isinstance(view, flow.QuestionView):
            break
        flow.answer(
            session,
            response,
            view.question_id,
            {"used": "no", "volunteers": "3"}.get(view.question_id),
        )
    assert isinstance(flow.complete(session, response), flow.DoneView)


def test_signatures_verify_and_refuse_tampering_and_replays() -> None:
    body = b'{"event":"round.closed"}'
    header = webhooks.sign("whsec_x", body, int(time.time()))
    assert webhooks.verify("whsec_x", body, header)
    assert not webhooks.verify("whsec_y", body, header)  # another secret
    assert not webhooks.verify("whsec_x", body + b" ", header)  # another body
    old = webhooks.sign("whsec_x", body, int(time.time()) - 600)
    assert not webhooks.verify("whsec_x", body, old)  # replayed 10 minutes later
    assert not webhooks.verify("whsec_x", body, "garbage")


def test_bad_webhooks_are_refused(session: Session) -> None:
    provider = make_provider(session)
    staff = users.create_user(
        session,
        email="s@example.org",
        name="S",
        password="a long pass phrase 42!",
        role="staff",
        provider=provider,
    )
    funder = users.create_user(
        session,
        email="f@example.org",
        name="F",
        password="a long pass phrase 42!",
        role="funder",
        funded=[provider],
    )
    for kwargs, message in (
        ({"url": "http://example.org/hook"}, "must be HTTPS"),
        ({"url": "ftp://example.org/hook"}, "not a web address"),
        ({"url": "https://user:pw@example.org/hook"}, "without a user name"),
        ({"events": ["round.opened"]}, "not round.opened"),
        ({"events": []}, "not none"),
        ({"provider": None, "funder": staff}, "is not a funder's account"),
        (
            {"provider": None, "funder": funder, "events": ["response.completed"]},
            "for a provider's own webhooks only",
        ),
        ({"funder": funder}, "one provider or one funder"),
    ):
        args: dict[str, Any] = {
            "url": "https://example.org/hook",
            "events": ["round.closed"],
            "provider": provider,
            "created_by": "test",
            **kwargs,
        }
        with pytest.raises(webhooks.WebhookError, match=message):
            webhooks.add_webhook(session, **args)
    assert session.scalars(select(models.Webhook)).all() == []
    # Plain HTTP to this machine is allowed, for trying it out.
    webhooks.add_webhook(
        session,
        url="http://127.0.0.1:9/hook",
        events=["round.closed"],
        provider=provider,
        created_by="test",
    )


def test_events_go_to_the_webhooks_that_want_them(session: Session) -> None:
    a, b = make_provider(session), make_provider(session)
    funder = users.create_user(
        session,
        email="f@example.org",
        name="F",
        password="a long pass phrase 42!",
        role="funder",
        funded=[a],
    )
    staff_a, _ = webhooks.add_webhook(
        session,
        url="https://a.example/hook",
        events=["round.closed", "response.completed"],
        provider=a,
        created_by="test",
    )
    funders, _ = webhooks.add_webhook(
        session,
        url="https://f.example/hook",
        events=["round.closed"],
        funder=funder,
        created_by="test",
    )
    removed, _ = webhooks.add_webhook(
        session,
        url="https://gone.example/hook",
        events=["round.closed"],
        provider=a,
        created_by="test",
    )
    webhooks.remove(session, removed.id)
    for provider in (a, b):
        make_organisation(session, provider)
        round_ = make_round(session, provider, audience={})
        _complete(session, round_.invitations[0])
        rounds.close_round(session, round_)
    queued = session.scalars(
        select(models.OutboxMessage).where(models.OutboxMessage.channel == "webhook")
    ).all()
    got = sorted((m.recipient, m.template, m.provider_id) for m in queued)
    assert got == sorted(
        [
            (str(staff_a.id), "response.completed", a.id),
            (str(staff_a.id), "round.closed", a.id),
            (str(funders.id), "round.closed", a.id),
        ]
    )
    closed = next(m for m in queued if m.template == "round.closed")
    assert closed.data["round"]["invited"] == 1 and closed.data["round"]["completed"] == 1
    assert closed.round_id is None  # so closing the round does not cancel it


class Receiver:
    """An HTTP server on loopback that checks each delivery's signature and keeps it; the first
    delivery hangs until released (so a dispatcher can be killed in the middle of it)."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.bad_signatures = 0
        self.first_arrived = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if not receiver.first_arrived.is_set():
                    receiver.first_arrived.set()
                    receiver.release.wait(30)
                    return  # the dispatcher was killed meanwhile: nobody reads an answer
                if not webhooks.verify(receiver.secret, body, self.headers["Tempcheck-Signature"]):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                receiver.received.append((self.headers["Tempcheck-Delivery"], json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = _free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_secret() -> Iterator[list[Receiver]]:
    made: list[Receiver] = []
    yield made
    for receiver in made:
        receiver.close()


def test_a_dispatcher_killed_mid_delivery_still_delivers_every_event_signed(
    settings: Settings,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    receiver_secret: list[Receiver],
) -> None:
    with db.transaction(session_factory) as session:
        provider = make_provider(session)
        for _ in range(3):
            make_organisation(session, provider, consent_email=False)
        hook, secret = webhooks.add_webhook(
            session,
            url="http://127.0.0.1:1/placeholder",
            events=list(webhooks.EVENTS),
            provider=provider,
            created_by="test",
        )
        receiver = Receiver(secret)
        receiver_secret.append(receiver)
        hook.url = f"http://127.0.0.1:{receiver.port}/hook"
        round_ = make_round(session, provider, audience={})
        for invitation in round_.invitations:
            _complete(session, invitation)
        rounds.close_round(session, round_, reports=False)
    with session_factory() as session:
        keys = set(
            session.scalars(
                select(models.OutboxMessage.dedupe_key).where(
                    models.OutboxMessage.channel == "webhook"
                )
            )
        )
    assert len(keys) == 4  # three responses completed, one round closed

    log = tmp_path / "dispatch.log"
    first = start_dispatcher(settings, 9, log, "--name", "d1", forever=True, claim_seconds=None)
    assert receiver.first_arrived.wait(60), log.read_text()
    first.send_signal(signal.SIGKILL)  # in the middle of the first delivery
    first.wait(timeout=10)
    receiver.release.set()
    finish(start_dispatcher(settings, 9, log, "--name", "d1", claim_seconds=None), log)

    assert receiver.bad_signatures == 0
    assert {key for key, _ in receiver.received} == keys  # every event, the killed one too
    events = sorted(body["event"] for _, body in receiver.received)
    assert events == ["response.completed"] * 3 + ["round.closed"]
    with session_factory() as session:
        statuses = set(
            session.scalars(
                select(models.OutboxMessage.status).where(models.OutboxMessage.channel == "webhook")
            )
        )
    assert statuses == {"sent"}
