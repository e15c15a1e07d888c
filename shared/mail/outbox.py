"""Staff e-mail owed, in a table of the service's own: written by a reaction in the transaction
that met the reason (the backbone runs each reaction once per event, and the unique key makes a
repeat owe nothing), then sent by a background task with retries; a message still failing after
the last attempt stays as `dead` with its error, for an operator.

A row names its recipient as a role (`ministers`) or a person (`staff:<subject>`), resolved to
addresses from the settings when it is sent: reactions are pure of configuration, and a
retry skips the addresses already served (`sent_to`), so no one gets a message twice."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from uuid6 import uuid7

from shared.mail.messages import Notice, StaffEmail
from shared.mail.port import Mailer, build_mailer
from shared.retry import RetrySchedule

if TYPE_CHECKING:
    from shared.service import Runtime

log = logging.getLogger(__name__)
BATCH = 20

metadata = sa.MetaData()

staff_mail = sa.Table(
    "staff_mail",
    metadata,
    sa.Column("mail_id", UUID(as_uuid=True), primary_key=True),
    #: Why it is owed, e.g. `ministerial-decision-wanted:<event id>:<address>`: once only.
    sa.Column("dedupe_key", sa.Text, nullable=False, unique=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("recipient", sa.Text, nullable=False),
    sa.Column("sent_to", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("personalisation", JSONB, nullable=False),
    sa.Column("state", sa.Text, nullable=False, server_default="pending"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    #: unaddressed: the settings name no address for the recipient.
    sa.CheckConstraint(
        "state IN ('pending', 'sent', 'dead', 'unaddressed')", name="staff_mail_state"
    ),
    sa.Index("staff_mail_due", "next_attempt_at", postgresql_where=sa.text("state = 'pending'")),
)


MINISTERS = "ministers"
_MAILBOX_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


def staff(subject: str) -> str:
    return f"staff:{subject}"


@dataclass(frozen=True)
class Addresses:
    """Recipients → e-mail addresses, from the settings."""

    ministers: tuple[str, ...] = ()
    staff: Mapping[str, str] = field(default_factory=dict)
    #: Staff not named in `staff` are `<subject>@<domain>` when set (an organisation whose
    #: sign-in names are its mailbox names), if the subject is a plain mailbox name.
    staff_domain: str | None = None

    def of(self, recipient: str) -> list[str]:
        if recipient == MINISTERS:
            return list(self.ministers)
        subject = recipient.removeprefix("staff:")
        if subject == recipient:
            return []
        if subject in self.staff:
            return [self.staff[subject]]
        if self.staff_domain and _MAILBOX_NAME.fullmatch(subject):
            return [f"{subject}@{self.staff_domain}"]
        return []


async def owe(conn: AsyncConnection, notices: Sequence[Notice], reason: str) -> None:
    """Owe these notices, once for `reason` (an event id, say) and recipient."""
    for notice in notices:
        await conn.execute(
            insert(staff_mail)
            .values(
                mail_id=uuid7(),
                dedupe_key=f"{notice.kind}:{reason}:{notice.recipient}",
                kind=notice.kind,
                recipient=notice.recipient,
                personalisation=notice.personalisation,
                next_attempt_at=sa.func.now(),
                created_at=sa.func.now(),
            )
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
        )


async def send_due(
    engine: AsyncEngine, mailer: Mailer, schedule: RetrySchedule, addresses: Addresses
) -> int:
    """Send what is due (locked meanwhile: instances share the work); how many were tried."""
    async with engine.begin() as conn:
        rows = (
            await conn.execute(
                sa.select(staff_mail)
                .where(
                    staff_mail.c.state == "pending", staff_mail.c.next_attempt_at <= sa.func.now()
                )
                .order_by(staff_mail.c.next_attempt_at)
                .limit(BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for row in rows:
            now = datetime.now(UTC)
            values: dict[str, object] = {"attempts": row.attempts + 1}
            to = [a for a in addresses.of(row.recipient) if a not in row.sent_to]
            if not to and not row.sent_to:
                values |= {"state": "unaddressed", "last_error": f"no address for {row.recipient}"}
            sent = list(row.sent_to)
            try:
                for address in to:
                    email = StaffEmail(row.kind, address, dict(row.personalisation))
                    await mailer.send(email, f"{row.mail_id}:{address}")
                    sent.append(address)
                if to or row.sent_to:
                    values |= {"state": "sent", "sent_at": now, "last_error": None}
            except Exception as exc:  # the transport's own errors are many and its own
                later = schedule.after_failure(row.attempts + 1, now)
                values |= {"last_error": f"{type(exc).__name__}: {exc}"[:300]}
                values |= {"next_attempt_at": later} if later else {"state": "dead"}
                log.warning("staff e-mail %s not sent: %s", row.mail_id, exc)
            await conn.execute(
                staff_mail.update()
                .where(staff_mail.c.mail_id == row.mail_id)
                .values(**values, sent_to=sent)
            )
    return len(rows)


async def run_staff_mail(runtime: Runtime) -> None:
    """The background task: send what is owed, forever."""
    s = runtime.settings
    mailer = build_mailer(
        s.mail_transport,
        smtp_host=s.mail_smtp_host,
        smtp_port=s.mail_smtp_port,
        sender=s.mail_from,
        notify_key_file=s.mail_notify_api_key_file,
        notify_templates=s.mail_notify_templates,
    )
    schedule = RetrySchedule(s.mail_max_attempts, s.mail_backoff_base_s, 6 * 3600.0)
    addresses = Addresses(
        tuple(s.mail_ministerial_addresses), dict(s.mail_staff_addresses), s.mail_staff_domain
    )
    while True:
        try:
            tried = await send_due(runtime.engine, mailer, schedule, addresses)
        except Exception as exc:  # the database is away: later
            log.warning("staff e-mail paused: %s", exc)
            tried = 0
        if not tried:
            await asyncio.sleep(1.0)
