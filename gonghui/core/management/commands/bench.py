"""gonghui bench <name> [options]: run a benchmark from gonghui.bench and print JSON."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from gonghui.bench import BENCHES


class Command(BaseCommand):
    help = "Benchmarks: " + ", ".join(sorted(BENCHES))

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="bench", required=True)
        for name, module_path in sorted(BENCHES.items()):
            module = importlib.import_module(module_path)
            sub = subparsers.add_parser(
                name, help=module.__doc__.splitlines()[0] if module.__doc__ else ""
            )
            module.add_arguments(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        module = importlib.import_module(BENCHES[options["bench"]])
        self.stdout.write(module.run(options))
