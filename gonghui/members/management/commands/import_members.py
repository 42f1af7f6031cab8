"""gonghui import_members FILE --org ID [--skip-bad-rows]: import as the system actor."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from gonghui.audit.context import Origin, set_origin
from gonghui.core.errors import ApplicationError
from gonghui.members.importing.service import import_file
from gonghui.orgs.models import Org


class Command(BaseCommand):
    help = "Import members from an .xlsx or .csv file into one base union (all-or-nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", type=int, required=True, help="id of the base union")
        parser.add_argument("--skip-bad-rows", action="store_true")
        parser.add_argument("--errors", type=Path, help="where to write the error report (.xlsx)")

    def handle(self, *args: Any, **options: Any) -> None:
        set_origin(Origin(source="cli"))
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        try:
            org = Org.objects.get(pk=options["org"])
        except Org.DoesNotExist:
            raise CommandError(f"no organisation with id {options['org']}") from None
        try:
            result = import_file(
                actor=None,
                org=org,
                path=path,
                file_name=path.name,
                skip_bad_rows=options["skip_bad_rows"],
            )
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        for error in result.errors[:20]:
            self.stderr.write(f"row {error.row} {error.column_header}: {error.message}")
        if result.error_file is not None:
            target = options["errors"] or path.with_name(path.stem + "-errors.xlsx")
            shutil.move(str(result.error_file), target)
            self.stderr.write(f"error report: {target}")
        self.stdout.write(
            f"rows={result.rows_total} created={result.rows_created} "
            f"updated={result.rows_updated} rejoined={result.rows_rejoined} "
            f"failed={result.rows_failed} "
            f"committed={result.committed} seconds={result.seconds:.1f}"
        )
        if not result.committed:
            raise CommandError("nothing imported: the file has bad rows (see --skip-bad-rows)")
