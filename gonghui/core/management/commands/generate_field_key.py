"""`gonghui generate_field_key`: print a new random key for GONGHUI_FIELD_KEY."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Print a new 256-bit field-encryption key. To rotate, put it FIRST in GONGHUI_FIELD_KEY "
        "(new,old), restart, then run `gonghui rotate_field_key`."
    )
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        from gonghui.core.crypto import generate_key

        self.stdout.write(generate_key())
