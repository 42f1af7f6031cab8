"""gonghui api_token create|list|revoke."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from django.utils.translation import gettext

from gonghui.accounts.models import ApiToken, User
from gonghui.accounts.services import api_token_authenticate, api_token_create, api_token_revoke
from gonghui.accounts.tests.test_api_tokens import CAP, NAME_CHARS, NAME_TAKEN, USELESS, state
from gonghui.audit.models import AuditEvent
from gonghui.conftest import PASSWORD


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("api_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*args: str) -> str:
    """The command's error message; and nothing changed."""
    before = state()
    with pytest.raises(CommandError) as exc:
        run(*args)
    assert state() == before
    return str(exc.value)


# --- create ---------------------------------------------------------------------------------------


def test_create_prints_the_secret_alone_and_it_works(world):
    out, err = run("create", "--user", "jiefang_staff", "--name", "人事系统同步")
    secret = out.strip()
    assert out == secret + "\n" and secret.startswith("gh_")
    token = ApiToken.objects.get()
    assert token.user == world.jiefang_officer and token.name == "人事系统同步"
    assert f"{token.prefix}…" in err and "jiefang_staff" in err and secret not in err
    assert api_token_authenticate(secret=secret) == world.jiefang_officer
    response = Client().get("/api/v1/orgs", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    line = AuditEvent.objects.get(object_type="accounts.apitoken")
    assert (line.actor_id, line.actor_label, line.source) == (None, "system", "cli")
    assert line.action == "create" and line.changes == {"token": [None, token.prefix]}


@pytest.mark.parametrize("username", ["nobody", "", "JIEFANG_STAFF", "jiefang_staff\x00", "'; --"])
def test_create_for_an_unknown_user_is_refused(world, username):
    assert "no user named" in refused("create", "--user", username, "--name", "x")


def test_create_refuses_what_the_page_refuses(world, settings):
    settings.GONGHUI_API_TOKENS_PER_USER = 1
    assert refused("create", "--user", "jiefang_staff", "--name", " ") == gettext(
        "Give the token a name of at most 60 characters."
    )
    assert refused("create", "--user", "jiefang_staff", "--name", "a\u202eb") == gettext(NAME_CHARS)
    assert refused("create", "--user", "jiefang_staff", "--name", "x" * 61) == (
        gettext("At most %(n)d characters.") % {"n": 60}
    )
    run("create", "--user", "jiefang_staff", "--name", "OA")
    settings.GONGHUI_API_TOKENS_PER_USER = 2
    assert refused("create", "--user", "jiefang_staff", "--name", "ｏａ") == gettext(NAME_TAKEN)
    settings.GONGHUI_API_TOKENS_PER_USER = 1
    assert refused("create", "--user", "jiefang_staff", "--name", "HR") == (gettext(CAP) % {"n": 1})


def test_create_for_an_account_the_api_would_refuse(world):
    User.objects.create_user(username="clerkish", password=PASSWORD)  # no staff flag
    assert refused("create", "--user", "clerkish", "--name", "x") == gettext(USELESS)


def test_create_needs_both_options(world):
    for args in (("create", "--user", "jiefang_staff"), ("create", "--name", "x"), ()):
        refused(*args)


# --- list -----------------------------------------------------------------------------------------


def test_list_never_prints_secrets_or_hashes(world):
    mine, mine_secret = api_token_create(actor=None, user=world.jiefang_officer, name="OA 同步")
    theirs, theirs_secret = api_token_create(actor=None, user=world.zhongzhan_officer, name="HR")
    api_token_revoke(actor=None, token=theirs)
    out, _err = run("list")
    lines = out.splitlines()
    assert lines[0] == "user\tprefix\tcreated\tlast used\tstate\tname"
    assert len(lines) == 3
    mine_line = next(line for line in lines if line.startswith("jiefang_staff\t"))
    fields = mine_line.split("\t")
    assert fields[1] == f"{mine.prefix}…" and fields[3] == "-" and fields[4] == "active"
    assert fields[5] == "OA 同步"
    theirs_line = next(line for line in lines if line.startswith("zhongzhan_staff\t"))
    assert theirs_line.split("\t")[4].startswith("revoked 20")
    for hidden in (mine_secret, theirs_secret, mine.key_hash, theirs.key_hash):
        assert hidden not in out
        assert hidden[8:20] not in out  # not even a piece past the prefix


def test_list_of_one_user(world):
    api_token_create(actor=None, user=world.jiefang_officer, name="mine")
    api_token_create(actor=None, user=world.zhongzhan_officer, name="theirs")
    out, _err = run("list", "--user", "jiefang_staff")
    assert "mine" in out and "theirs" not in out
    out, err = run("list", "--user", "jiefang_viewer")
    assert out == "" and "no tokens" in err


def test_list_of_an_unknown_user_is_refused(world):
    assert "no user named" in refused("list", "--user", "nobody")


# --- revoke ---------------------------------------------------------------------------------------


def test_revoke_by_prefix(world):
    token, secret = api_token_create(actor=None, user=world.jiefang_officer, name="sync")
    other, other_secret = api_token_create(actor=None, user=world.jiefang_officer, name="other")
    out, _err = run("revoke", "--prefix", token.prefix, "--user", "jiefang_staff")
    assert "sync" in out and token.prefix in out
    assert api_token_authenticate(secret=secret) is None
    assert api_token_authenticate(secret=other_secret) == world.jiefang_officer
    response = Client().get("/api/v1/orgs", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    line = AuditEvent.objects.get(object_type="accounts.apitoken", action="revoke")
    assert (line.actor_id, line.actor_label, line.source) == (None, "system", "cli")
    assert line.object_id == str(token.pk)


def test_revoke_takes_the_prefix_as_list_shows_it(world):
    token, secret = api_token_create(actor=None, user=world.jiefang_officer, name="sync")
    run("revoke", "--prefix", f" {token.prefix}… ", "--user", "jiefang_staff")
    assert api_token_authenticate(secret=secret) is None


def test_revoke_errors(world):
    token, secret = api_token_create(actor=None, user=world.jiefang_officer, name="sync")
    # Unknown user; a user who has no such token (the prefix is someone else's).
    assert "no user named" in refused("revoke", "--prefix", token.prefix, "--user", "nobody")
    message = refused("revoke", "--prefix", token.prefix, "--user", "zhongzhan_staff")
    assert "has no token with prefix" in message
    assert "has no token" in refused("revoke", "--prefix", "gh_zzzzz", "--user", "jiefang_staff")
    # Not a prefix at all: a whole secret pasted by mistake is not echoed back.
    for wrong in (
        secret,
        "",
        "gh_",
        "x" * 10_000,
        "全角全角全角全角",
        "gh_a\x00bcd",
        "ｇｈ＿abcde",
    ):
        message = refused("revoke", "--prefix", wrong, "--user", "jiefang_staff")
        assert "8 characters" in message
        assert len(wrong) < 8 or wrong not in message
    # Already revoked.
    api_token_revoke(actor=None, token=token)
    assert "already revoked" in refused(
        "revoke", "--prefix", token.prefix, "--user", "jiefang_staff"
    )
    assert api_token_authenticate(secret=secret) is None


def test_revoke_refuses_to_guess_between_two_tokens_with_one_prefix(world):
    one, one_secret = api_token_create(actor=None, user=world.jiefang_officer, name="one")
    two, two_secret = api_token_create(actor=None, user=world.jiefang_officer, name="two")
    ApiToken.objects.filter(pk=two.pk).update(prefix=one.prefix)  # 1 in 64⁵, made here
    message = refused("revoke", "--prefix", one.prefix, "--user", "jiefang_staff")
    assert "2 active tokens" in message and "'one'" in message and "'two'" in message
    assert api_token_authenticate(secret=one_secret) is not None
    assert api_token_authenticate(secret=two_secret) is not None
    # Once one of them is gone, the prefix names the other.
    ApiToken.objects.filter(pk=one.pk).update(revoked_at=timezone.now())
    run("revoke", "--prefix", one.prefix, "--user", "jiefang_staff")
    assert api_token_authenticate(secret=two_secret) is None


def test_unknown_subcommand_is_refused(world):
    for args in (("delete", "--user", "jiefang_staff"), ("revoke", "--user", "jiefang_staff")):
        refused(*args)
