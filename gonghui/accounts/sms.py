"""Pluggable SMS senders for one-time codes. Production sets GONGHUI_SMS_BACKEND to a real one."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("gonghui.sms")


class SmsBackend:
    def send(self, *, phone: str, text: str) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(SmsBackend):
    """Development: prints the message to the server's console."""

    def send(self, *, phone: str, text: str) -> None:
        print(f"[SMS to {phone}] {text}", flush=True)  # noqa: T201


class MemorySmsBackend(SmsBackend):
    """Tests: keeps the messages in a list to read back."""

    outbox: list[tuple[str, str]] = []

    def send(self, *, phone: str, text: str) -> None:
        MemorySmsBackend.outbox.append((phone, text))


def get_sms_backend() -> SmsBackend:
    backend: SmsBackend = import_string(settings.SMS_BACKEND)()
    return backend
