"""`gonghui demo`: migrate, load the synthetic demo data, print the logins, serve with a worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections


class Command(BaseCommand):
    help = (
        "Run the platform with synthetic demo data: migrate, load the demo (once), print the "
        "logins, then serve on http://127.0.0.1:PORT with a background worker. --reset erases the "
        "whole configured database first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        from gonghui.demo.loader import DEFAULT_MEMBERS

        parser.add_argument("--members", type=int, default=DEFAULT_MEMBERS)
        parser.add_argument("--no-serve", action="store_true", help="load and exit")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--reset",
            action="store_true",
            help="erase the whole configured database and load the demo again",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from gonghui.demo.loader import demo_is_loaded, demo_load

        members = options["members"]
        if members < 1 or members > 2_000_000:
            raise CommandError("--members must be between 1 and 2000000")
        if not 1 <= options["port"] <= 65535:
            raise CommandError("--port must be between 1 and 65535")
        if options["reset"]:
            if not settings.DEBUG:
                raise CommandError("--reset erases the whole database; it runs only with DEBUG=1")
            self._reset_database()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        if demo_is_loaded():
            self.stdout.write("The demo data is already loaded (use --reset to load it again).")
        else:
            started = time.monotonic()
            summary = demo_load(
                members=members, progress=lambda msg: self.stdout.write(f"  loading {msg}")
            )
            self.stdout.write(
                self.style.SUCCESS(
                    f"Loaded {summary.orgs} organisations ({summary.base_unions} member-holding), "
                    f"{summary.members} members, {summary.cards} cards, "
                    f"{summary.join_applications} join applications "
                    f"in {time.monotonic() - started:.1f} s."
                )
            )
        self._print_logins(options["port"])
        if not options["no_serve"]:
            self._serve(options["port"])

    def _reset_database(self) -> None:
        db = settings.DATABASES["default"]
        if db["ENGINE"].endswith("sqlite3"):
            connections.close_all()
            name = Path(str(db["NAME"]))
            for path in (name, Path(f"{name}-wal"), Path(f"{name}-shm")):
                path.unlink(missing_ok=True)
            self.stdout.write(f"Removed {name}.")
            return
        # Any other database: empty every table, then put back the data migrations' seed rows.
        call_command("migrate", interactive=False, verbosity=0)
        call_command("flush", interactive=False, verbosity=0)
        from importlib import import_module

        from django.apps import apps

        seed = import_module("gonghui.members.migrations.0002_seed_card_bins")
        seed.seed(apps, None)
        self.stdout.write(f"Emptied database {db.get('NAME')}.")

    def _print_logins(self, port: int) -> None:
        from gonghui.demo.loader import DEMO_MEMBER_CODE, DEMO_MEMBER_PHONE, DEMO_PASSWORD
        from gonghui.members.models import Member

        base = f"http://127.0.0.1:{port}"
        member = Member.objects.filter(phone=DEMO_MEMBER_PHONE).select_related("org").first()
        lines = [
            "",
            f"Staff sign-in: {base}/accounts/login/   password for all: {DEMO_PASSWORD}",
            "  city_admin       焦作市总工会 (admin: the whole city)",
            "  jiefang_staff    解放区总工会 (officer: 解放区 only)",
            "  zhongzhan_staff  中站区总工会 (officer: 中站区 only)",
            "  base_clerk       one base union in 解放区 (officer)",
            f"Merchant sign-in: {base}/accounts/login/?next=/merchant/   password {DEMO_PASSWORD}",
            "  bookstore_clerk  新华书店 塔南路图书大厦 (redeems 四月芳菲 vouchers; supervisor)",
            f"Member sign-in: {base}/m/login/   phone {DEMO_MEMBER_PHONE}, code {DEMO_MEMBER_CODE}"
            + (f"  ({member.name}, {member.org.name})" if member else ""),
            "All names, identity numbers, phones and card numbers are synthetic.",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _serve(self, port: int) -> None:
        from gonghui.demo.loader import DEMO_MEMBER_CODE, DEMO_MEMBER_PHONE

        if not settings.DEBUG:
            call_command("collectstatic", interactive=False, verbosity=0)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "gonghui.settings"),
            # The fixed member code works only in the processes started here.
            "GONGHUI_DEMO_MEMBER_PHONE": DEMO_MEMBER_PHONE,
            "GONGHUI_DEMO_MEMBER_CODE": DEMO_MEMBER_CODE,
        }
        cli = [sys.executable, "-m", "gonghui"]
        # Fixed argument lists: our own interpreter and commands, no shell, no user input.
        worker = subprocess.Popen(  # noqa: S603
            [*cli, "db_worker", "--no-reload", "--interval", "1"], env=env
        )
        server = subprocess.Popen(  # noqa: S603
            [*cli, "runserver", "--noreload", "--insecure", f"127.0.0.1:{port}"], env=env
        )
        self.stdout.write(f"Serving on http://127.0.0.1:{port}/ with a task worker. Ctrl-C stops.")
        next_tick = 0.0
        try:
            while server.poll() is None and worker.poll() is None:
                if time.monotonic() >= next_tick:
                    demo_clock_tick(self.stderr)
                    next_tick = time.monotonic() + DEMO_TICK_SECONDS
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping…")
        finally:
            for proc in (server, worker):
                if proc.poll() is None:
                    proc.terminate()
            for proc in (server, worker):
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        failed = [
            name
            for name, proc in (("runserver", server), ("db_worker", worker))
            if proc.returncode not in (0, -15, -2, None)
        ]
        if failed:
            raise CommandError(f"{', '.join(failed)} stopped unexpectedly")


DEMO_TICK_SECONDS = 30


def demo_clock_tick(errors: Any) -> None:
    """The campaign clock production runs from cron every minute (``benefits_tick``: campaigns open
    at their release time, close after their window, vouchers expire), run by the demo itself so a
    campaign scheduled in the demo opens on time. A failed tick is said and the demo goes on."""
    import io

    try:
        call_command("benefits_tick", stdout=io.StringIO())
    except Exception as exc:  # noqa: BLE001 (the demo keeps serving; the next tick tries again)
        errors.write(f"benefits_tick failed: {exc}\n")
