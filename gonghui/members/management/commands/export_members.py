"""gonghui export_members --org ID -o out.xlsx: masked export of a union's subtree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gonghui.audit.context import Origin, set_origin
from gonghui.members.exporting import member_export
from gonghui.members.selectors import MemberFilters
from gonghui.orgs.models import Org


class _System:
    """The command's actor: sees everything, may export, never reveals (masked only)."""

    is_authenticated = True
    is_active = True
    is_superuser = True
    is_staff = True
    audit_label = "system"
    org = None
    pk = None

    def can(self, capability: str) -> bool:
        return capability != "reveal_sensitive"


class Command(BaseCommand):
    help = "Export the members of an organisation's subtree to .xlsx (numbers masked)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", type=int, required=True)
        parser.add_argument("-o", "--output", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        set_origin(Origin(source="cli"))
        try:
            org = Org.objects.get(pk=options["org"])
        except Org.DoesNotExist:
            raise CommandError(f"no organisation with id {options['org']}") from None
        with options["output"].open("wb") as out:
            count = member_export(actor=_System(), filters=MemberFilters(org=org), out=out)
        self.stdout.write(f"exported {count} members of {org.name} to {options['output']}")
