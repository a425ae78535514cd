"""A real SMTP server on a free loopback port (aiosmtpd) for the tests that send mail, with Django's SMTP
backend pointed at it (pytest-django's locmem backend replaced)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

from aiosmtpd.controller import Controller

from benchmarks.processes import free_port


class SmtpInbox:
    """aiosmtpd handler: every message the server accepted, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m, e in zip(self.messages, self.envelopes, strict=True) if address in e.rcpt_tos]

    def body(self, message) -> str:
        return message.get_body(preferencelist=("plain",)).get_content()


def smtp_server_run(settings) -> Iterator[SmtpInbox]:
    """For a fixture: start the server, point the mail settings at it, yield its inbox, stop it."""
    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    settings.DEFAULT_FROM_EMAIL = "importhub@example.com"
    inbox.port = controller.port
    try:
        yield inbox
    finally:
        controller.stop()
