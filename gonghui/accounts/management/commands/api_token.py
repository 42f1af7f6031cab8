"""gonghui api_token create|list|revoke: API tokens for staff users, from the command line.

``create --user USERNAME --name NAME`` prints the secret alone on standard output (so that a
script can capture it) and says the rest on standard error; it is shown this once. ``list``
never prints a secret or its hash. ``revoke --prefix PREFIX --user USERNAME`` revokes one active
token. Changes are audited as the system, from the command line.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gonghui.accounts.models import ApiToken, User
from gonghui.accounts.selectors import api_token_list_system
from gonghui.accounts.services import api_token_create, api_token_revoke
from gonghui.audit.context import Origin, set_origin
from gonghui.core.errors import ApplicationError

PREFIX_LENGTH = 8
# "gh_" and the first five characters of the URL-safe secret.
_PREFIX = re.compile(r"gh_[A-Za-z0-9_-]{5}")


def _when(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else "-"


def _state(token: ApiToken) -> str:
    return f"revoked {_when(token.revoked_at)}" if token.revoked_at else "active"


class Command(BaseCommand):
    help = "Create, list and revoke API tokens of staff users."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{create,list,revoke}"
        )
        create = actions.add_parser("create", help="make a token; prints its secret once")
        create.add_argument("--user", required=True, help="the staff user's user name")
        create.add_argument("--name", required=True, help="what the token is for")
        listing = actions.add_parser("list", help="list tokens (never their secrets)")
        listing.add_argument("--user", help="only this user's tokens")
        revoke = actions.add_parser("revoke", help="revoke one active token")
        revoke.add_argument("--prefix", required=True, help="the 8 characters `list` shows")
        revoke.add_argument("--user", required=True, help="the token owner's user name")

    def handle(self, *args: Any, **options: Any) -> None:
        set_origin(Origin(source="cli"))
        action = options["action"]
        if action == "create":
            self._create(_user(options["user"]), options["name"])
        elif action == "list":
            self._list(_user(options["user"]) if options["user"] is not None else None)
        else:
            self._revoke(_user(options["user"]), options["prefix"])

    def _create(self, user: User, name: str) -> None:
        try:
            token, secret = api_token_create(actor=None, user=user, name=name)
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(secret)
        self.stderr.write(
            f"created token {token.name!r} ({token.prefix}…) for {user.username}; "
            "the secret above is shown only this once"
        )

    def _list(self, owner: User | None) -> None:
        tokens = list(api_token_list_system(owner=owner))
        if not tokens:
            self.stderr.write("no tokens")
            return
        self.stdout.write("user\tprefix\tcreated\tlast used\tstate\tname")
        for token in tokens:
            self.stdout.write(
                "\t".join(
                    [
                        token.user.username,
                        f"{token.prefix}…",
                        _when(token.created_at),
                        _when(token.last_used_at),
                        _state(token),
                        token.name,
                    ]
                )
            )

    def _revoke(self, owner: User, raw_prefix: str) -> None:
        # As `list` shows it, with the ellipsis, or as typed without it.
        prefix = raw_prefix.strip().rstrip("…").rstrip(".")
        if not _PREFIX.fullmatch(prefix):
            # Not echoed: a whole secret pasted by mistake must not land in a log.
            raise CommandError(
                f"a prefix is the {PREFIX_LENGTH} characters `api_token list` shows, e.g. gh_AbC12"
            )
        matches = list(api_token_list_system(owner=owner).filter(prefix=prefix))
        active = [t for t in matches if t.revoked_at is None]
        if not matches:
            raise CommandError(f"{owner.username} has no token with prefix {prefix!r}")
        if not active:
            raise CommandError(
                f"the token {prefix}… of {owner.username} was already revoked "
                f"({_when(matches[0].revoked_at)})"
            )
        if len(active) > 1:
            names = ", ".join(repr(t.name) for t in active)
            raise CommandError(
                f"{len(active)} active tokens of {owner.username} start with {prefix!r} "
                f"({names}); revoke the right one on the tokens page or in the admin"
            )
        try:
            token = api_token_revoke(actor=None, token=active[0])
        except ApplicationError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"revoked token {token.name!r} ({token.prefix}…) of {owner.username}")


def _user(username: str) -> User:
    # PostgreSQL cannot compare a NUL; no user name holds one.
    user = (
        None
        if "\x00" in username
        else User.objects.select_related("org").filter(username=username).first()
    )
    if user is None:
        raise CommandError(f"no user named {username!r}")
    return user
