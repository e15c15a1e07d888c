"""The port staff e-mail goes through, and its two adapters: GOV.UK Notify (its official
Python client) and SMTP (the local stack's receiver, or any relay)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

from shared.mail.messages import StaffEmail


class Mailer(Protocol):
    async def send(self, email: StaffEmail, reference: str) -> None:
        """Hand the e-mail on, or raise; `reference` identifies it (one per message)."""


class SmtpMailer:
    def __init__(self, host: str, port: int, sender: str, timeout_s: float = 10.0) -> None:
        self.host, self.port, self.sender, self.timeout_s = host, port, sender, timeout_s

    def message(self, email: StaffEmail, reference: str) -> EmailMessage:
        subject, body = email.rendered()
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = subject
        message["Message-ID"] = f"<{reference}@jiph-gateway>"
        message["X-JIPH-Kind"] = email.kind
        message.set_content(body)
        return message

    async def send(self, email: StaffEmail, reference: str) -> None:
        message = self.message(email, reference)
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout_s) as smtp:
            smtp.send_message(message)


class NotifyMailer:
    """GOV.UK Notify: the template is Notify's (by id), filled with the personalisation."""

    def __init__(self, api_key: str, template_ids: dict[str, str]) -> None:
        from notifications_python_client.notifications import NotificationsAPIClient

        self.client = NotificationsAPIClient(api_key)  # type: ignore[no-untyped-call]
        self.template_ids = template_ids

    async def send(self, email: StaffEmail, reference: str) -> None:
        await asyncio.to_thread(
            self.client.send_email_notification,
            email_address=email.to,
            template_id=self.template_ids[email.kind],
            personalisation=email.personalisation,
            reference=reference,
        )


def build_mailer(
    transport: str,
    *,
    smtp_host: str,
    smtp_port: int,
    sender: str,
    notify_key_file: Path | None,
    notify_templates: dict[str, str],
) -> Mailer:
    if transport == "govuk-notify":
        if notify_key_file is None:
            raise ValueError("MAIL_TRANSPORT=govuk-notify needs MAIL_NOTIFY_API_KEY_FILE")
        return NotifyMailer(notify_key_file.read_text().strip(), notify_templates)
    return SmtpMailer(smtp_host, smtp_port, sender)
