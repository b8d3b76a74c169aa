"""The dispatcher: runs the schedules, then claims due outbox messages and delivers them.

One tick: run the schedules (`collector.schedules`: close due rounds, queue due reminders and
follow-ups, erase what is past its retention period; one transaction); publish one closed
round's due reports (built in a session that only reads, then kept in a short transaction of
their own); claim a batch (one transaction, committed before anything is sent); then for each
message, check it is still wanted, render it, send it through its channel's transport at the
channel's pace, and record the result straight away in a short transaction of its own. While it
holds a batch, a heartbeat thread extends the claim every third of DISPATCH_CLAIM_SECONDS, so a
claim can be short (15 s) however slow sending is. Killed at any moment, a dispatcher leaves at
most the message it was sending unrecorded: that one may be sent twice, nothing is lost. The
rest of its batch goes to another dispatcher once the claim runs out (no heartbeat: within
DISPATCH_CLAIM_SECONDS), or at once to the next run under the same name (`expire_claims` when
it starts).

Transports are objects with `render(message)`, `send(message, rendered)` (raising
`outbox.DeliveryError`), `describe()` and `close()`, one per channel. A message on a channel
with no transport here stays pending for a dispatcher that has one (Telegram's needs
TELEGRAM_BOT_TOKEN).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from collector import db, models, reports, rounds, schedules
from collector.config import Settings
from collector.delivery import chats, outbox, webhooks
from collector.delivery.outbox import DeliveryError, Outgoing
from collector.models import utcnow

log = logging.getLogger(__name__)

# How often a dispatcher with nothing to do looks again.
IDLE_SECONDS = 1.0
# How often it says again that messages wait for a channel it cannot send on.
UNSENDABLE_WARNING_EVERY = 600.0


class Transport(Protocol):
    """What the dispatcher needs from a channel's transport."""

    channel: str

    def describe(self) -> str:
        """Say where messages go."""
        ...

    def render(self, message: Outgoing) -> Any:
        """Build what will be sent; raise a permanent DeliveryError when it cannot be built."""
        ...

    def send(self, message: Outgoing, rendered: Any) -> None:
        """Deliver one message; raise DeliveryError when it was not delivered."""
        ...

    def close(self) -> None:
        """Let go of any connection."""
        ...


@dataclass
class TickReport:
    """What one tick (or a whole run) did."""

    claimed: int = 0
    sent: int = 0
    retrying: int = 0  # failed this time, to be tried again later
    failed: int = 0  # given up
    cancelled: int = 0  # no longer wanted when their turn came
    released: int = 0  # given back unsent, because the dispatcher was stopping
    lost: int = 0  # results not recorded: the claim had run out and another took the message
    reminders: int = 0  # scheduled reminders queued
    reminded: int = 0  # messages those reminders queued
    closed: int = 0  # rounds closed at their close date
    published: int = 0  # reports published for the rounds closed
    report_rounds: int = 0  # closed rounds whose due reports were dealt with (even if failed)
    followups: int = 0  # placements followed up (their volunteer and host invited)
    followup_messages: int = 0  # follow-up invitations and reminders queued
    erased: int = 0  # volunteers erased at the end of their retention period

    def add(self, other: TickReport) -> None:
        """Add another report's counts to this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def busy(self) -> bool:
        """Tell whether anything happened."""
        return any(getattr(self, f.name) for f in fields(self))

    def summary(self) -> str:
        """Describe what happened in one line."""
        parts = [f"sent {self.sent}"]
        for name, label in (
            ("retrying", "to retry"),
            ("failed", "failed"),
            ("cancelled", "cancelled"),
            ("released", "given back"),
            ("lost", "claim lost"),
        ):
            if getattr(self, name):
                parts.append(f"{label} {getattr(self, name)}")
        if self.reminders:
            parts.append(f"reminders queued {self.reminded} (from {self.reminders} schedules)")
        if self.closed:
            parts.append(f"rounds closed {self.closed}")
        if self.published:
            parts.append(f"reports published {self.published}")
        if self.followups or self.followup_messages:
            parts.append(
                f"placements followed up {self.followups} ({self.followup_messages} messages)"
            )
        if self.erased:
            parts.append(f"volunteers erased {self.erased}")
        return ", ".join(parts)


class Pacer:
    """Space out sends on one channel to at most `per_second`."""

    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = 1.0 / per_second
        self.clock = clock
        self._next = 0.0

    def wait(self, stop: threading.Event) -> None:
        """Wait for the next slot (or until `stop` is set)."""
        now = self.clock()
        if self._next > now:
            stop.wait(self._next - now)
            now = self.clock()
        self._next = max(now, self._next) + self.interval


class Heartbeat:
    """A thread that keeps a dispatcher's claims alive while it works through a batch.

    Every third of the claim's length it moves the claim on by a whole length, for every message
    the dispatcher still holds (the one being sent, however long that takes, and those waiting
    their turn). When it cannot (the database is unreachable), the claim runs out as it would
    without a heartbeat, and the dispatcher stops sending from the batch before it does.
    """

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher
        self.every = dispatcher.settings.dispatch_claim_seconds / 3
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat, name=f"heartbeat {dispatcher.name}", daemon=True
        )

    def start(self) -> None:
        """Start beating."""
        self._thread.start()

    def stop(self) -> None:
        """Stop beating (the batch is done) and wait for the thread."""
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        d = self.dispatcher
        length = timedelta(seconds=d.settings.dispatch_claim_seconds)
        while not self._stop.wait(self.every):
            until = d.clock() + length
            try:
                with db.transaction(d.sessions) as session:
                    outbox.extend_claims(session, d.name, until)
            except Exception:  # the thread's boundary: logged, and the claim runs out
                log.warning("could not extend the claim on this batch", exc_info=True)
                continue
            d._held_until = until


class Dispatcher:
    """Deliver the outbox: claim due messages, send them, record each result."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        transports: Mapping[str, Transport],
        name: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        rates: Mapping[str, float] | None = None,
        idle_seconds: float = IDLE_SECONDS,
        publish: reports.PublishHook | None = None,
        read_sessions: sessionmaker[Session] | None = None,
    ) -> None:
        self.settings = settings
        # Publishes the reports of closed rounds whose reports are due: passed in by the
        # composition root (the collector does not build reports).
        self.publish = publish
        self.sessions = sessions
        # Sessions that only read (no write lock on SQLite), where due reports are built.
        self.read_sessions = read_sessions or db.make_read_sessionmaker(sessions.kw["bind"])
        self.transports = dict(transports)
        self.name = name
        self.clock = clock
        self.idle_seconds = idle_seconds
        rates = {"email": float(settings.email_per_second), **(rates or {})}
        self.pacers = {
            channel: Pacer(rate) for channel, rate in rates.items() if channel in self.transports
        }
        self.stop_event = threading.Event()
        # Stop sending from a batch when this little of its claim is left: past the claim,
        # another dispatcher may take the same messages.
        self.margin = timedelta(seconds=settings.dispatch_claim_seconds / 4)
        self._warned_at: float | None = None
        # Until when this dispatcher's claims are known to hold (the heartbeat moves it on).
        self._held_until: datetime | None = None
        self._started = False

    def stop(self) -> None:
        """Ask the dispatcher to stop after the message it is sending."""
        self.stop_event.set()

    # One tick -------------------------------------------------------------------------------

    def take_back_claims(self) -> int:
        """Make the claims an earlier run under this name left behind due now; give how many."""
        with db.transaction(self.sessions) as session:
            expired = outbox.expire_claims(session, self.name, now=self.clock())
        if expired:
            log.warning(
                "%d messages were still claimed by an earlier run of dispatcher %s, which "
                "stopped without recording them: taking them again now (the one it was sending "
                "may go out twice)",
                expired,
                self.name,
            )
        return expired

    def tick(self) -> TickReport:
        """Run the schedules, then claim one batch and deliver it."""
        if not self._started:
            self._started = True
            self.take_back_claims()
        report = TickReport()
        with db.transaction(self.sessions) as session:
            done = schedules.run_schedules(session, now=self.clock())
        report.reminders, report.reminded, report.closed = (
            done["reminders"],
            done["reminded"],
            done["closed"],
        )
        report.followups = done.get("followups", 0)
        report.followup_messages = done.get("followup_messages", 0)
        report.erased = done.get("erased", 0)
        outcomes = self._publish_due(self.publish) if self.publish is not None else []
        report.report_rounds = len(outcomes)
        for outcome in outcomes:
            report.published += len(outcome.snapshots)
            if outcome.error is not None:
                log.warning(
                    "round %d closed, but its report could not be published (`tempcheck "
                    "report publish --round %d` tries again): %s",
                    outcome.round_id,
                    outcome.round_id,
                    outcome.error,
                )
            elif outcome.nothing is not None:
                log.info(
                    "round %d closed; no report published: %s", outcome.round_id, outcome.nothing
                )
        if self.stop_event.is_set():
            return report
        with db.transaction(self.sessions) as session:
            batch = outbox.claim(
                session,
                self.name,
                limit=self.settings.dispatch_batch,
                now=self.clock(),
                claim_seconds=self.settings.dispatch_claim_seconds,
                channels=list(self.transports),
                max_attempts=self.settings.dispatch_max_attempts,
            )
        report.claimed = len(batch)
        if not batch:
            self._warn_unsendable()
            return report
        waiting = list(batch)
        self._held_until = batch[0].claimed_until
        heartbeat = Heartbeat(self)
        heartbeat.start()
        try:
            while waiting and not self.stop_event.is_set():
                if self.clock() >= self._held_until - self.margin:
                    log.warning(
                        "the claim on %d messages is running out (sending is slow): giving them "
                        "back",
                        len(waiting),
                    )
                    break
                self._deliver(waiting.pop(0), report)
        finally:
            heartbeat.stop()
            # Whatever happened, messages not yet begun go back to pending at once. One being
            # sent when something broke keeps its claim, which expires: it may have gone out.
            if waiting:
                with db.transaction(self.sessions) as session:
                    report.released += outbox.release(session, self.name, [m.id for m in waiting])
        return report

    def _publish_due(self, publish: reports.PublishHook) -> list[reports.PublishOutcome]:
        """Publish the due reports of one closed round (closed here, in the console or by a
        command), so that sending waits at most one round's: built in a session that only
        reads, then kept in a short transaction of its own."""
        with db.transaction(self.read_sessions) as session:
            built = schedules.build_due_reports(session, publish)
        outcomes = []
        for due in built:
            with db.transaction(self.sessions) as session:
                outcome = schedules.store_due_reports(session, due, actor=f"dispatcher {self.name}")
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def _deliver(self, message: Outgoing, report: TickReport) -> None:
        """Check, render, send and record one message."""
        with db.transaction(self.sessions) as session:
            reason, recipient = still_wanted(session, message)
            if reason is not None:
                if outbox.cancel(session, message.id, self.name, reason):
                    report.cancelled += 1
                else:
                    report.lost += 1
                return
            if recipient != message.recipient:
                # The recipient's address changed after the message was queued.
                outbox.readdress(session, message.id, self.name, recipient)
                message = replace(message, recipient=recipient)
        transport = self.transports[message.channel]
        try:
            rendered = transport.render(message)
            pacer = self.pacers.get(message.channel)
            if pacer is not None:
                pacer.wait(self.stop_event)
            transport.send(message, rendered)
        except DeliveryError as error:
            self._record_failure(message, error, report)
            return
        with db.transaction(self.sessions) as session:
            recorded = outbox.mark_sent(session, message.id, self.name, now=self.clock())
        report.sent += 1
        if not recorded:
            report.lost += 1
            log.warning(
                "message %d was sent after this dispatcher's claim on it ran out: another "
                "dispatcher may send it too",
                message.id,
            )

    def _record_failure(self, message: Outgoing, error: DeliveryError, report: TickReport) -> None:
        with db.transaction(self.sessions) as session:
            status = outbox.mark_failed(
                session,
                message.id,
                self.name,
                str(error),
                permanent=error.permanent,
                max_attempts=self.settings.dispatch_max_attempts,
                now=self.clock(),
            )
            if error.unreachable:
                report.cancelled += chats.mark_unreachable(
                    session, message.channel, message.recipient, now=self.clock()
                )
        if status is None:
            report.lost += 1
        elif status == "failed":
            report.failed += 1
            log.warning("message %d (%s) given up: %s", message.id, message.template, error)
        else:
            report.retrying += 1
            log.info(
                "message %d (%s) will be tried again (attempt %d failed): %s",
                message.id,
                message.template,
                message.attempts,
                error,
            )

    def _warn_unsendable(self) -> None:
        """Say (now and then) when messages wait for a channel this dispatcher cannot send on."""
        now = time.monotonic()
        if self._warned_at is not None and now - self._warned_at < UNSENDABLE_WARNING_EVERY:
            return
        self._warned_at = now
        with db.transaction(self.sessions) as session:
            waiting = outbox.due_without_transport(session, list(self.transports), now=self.clock())
        for channel, count in sorted(waiting.items()):
            log.warning(
                "%d %s messages are due, and this dispatcher cannot send %s: they stay pending "
                "for one that can",
                count,
                channel,
                channel,
            )

    # Running --------------------------------------------------------------------------------

    def run(
        self,
        *,
        until_idle: bool = False,
        stop_event: threading.Event | None = None,
        on_tick: Callable[[TickReport], None] | None = None,
    ) -> TickReport:
        """Tick until stopped (or, with `until_idle`, until nothing is due); give the totals.

        A tick that fails is logged with its traceback and tried again after a pause (with
        `until_idle` the error is raised instead, so a one-off run reports it).
        """
        if stop_event is not None:
            self.stop_event = stop_event
        total = TickReport()
        failures = 0
        while not self.stop_event.is_set():
            try:
                report = self.tick()
            except Exception:
                if until_idle:
                    raise
                failures += 1
                pause = min(60.0, 2.0**failures)
                log.exception("dispatcher tick failed; trying again in %.0f s", pause)
                self.stop_event.wait(pause)
                continue
            failures = 0
            total.add(report)
            if on_tick is not None and report.busy:
                on_tick(report)
            if report.claimed == 0:
                self.close()  # idle: no need to keep a mail server connection open
                if until_idle:
                    break
                self.stop_event.wait(self.idle_seconds)
        self.close()
        return total

    def close(self) -> None:
        """Close every transport's connection."""
        for transport in self.transports.values():
            transport.close()


def still_wanted(session: Session, message: Outgoing) -> tuple[str | None, str]:
    """Check a message just before it is sent: give why it is no longer wanted (or None), and
    the address to send it to now."""
    if message.template == reports.TEMPLATE:
        return reports.still_wanted(session, message)
    if message.channel == webhooks.CHANNEL:
        return webhooks.still_wanted(session, message), message.recipient
    recipient = message.recipient
    if message.round_id is not None:
        round_ = session.get(models.Round, message.round_id)
        if round_ is not None and round_.status == "closed":
            return "The round closed before it was sent", recipient
    if message.invitation_id is None:
        return None, recipient
    invitation = session.get(models.Invitation, message.invitation_id)
    if invitation is None:
        return None, recipient
    recipient_ = invitation.recipient
    if recipient_ is not None:
        if recipient_.opted_out_at is not None:
            return f"The {_kind(recipient_)} opted out", recipient
        address = rounds.contact_address(recipient_, message.channel)
        if address is None:
            return (
                f"The {_kind(recipient_)} can no longer be reached by {message.channel}",
                recipient,
            )
        recipient = address
    response = invitation.response
    if response is not None and response.status == "completed":
        return "The group answered before it was sent", recipient
    return None, recipient


def _kind(recipient: rounds.Recipient) -> str:
    if isinstance(recipient, models.Contact):
        return "contact"
    return "volunteer" if isinstance(recipient, models.Volunteer) else "group"
