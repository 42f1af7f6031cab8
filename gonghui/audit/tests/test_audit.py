import pytest
from django.db import DatabaseError, connection, transaction

from gonghui.audit.context import Origin, set_origin
from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.audit.services import audit_record
from gonghui.members.services import member_update


def test_changes_are_audited_with_who_what_and_where(world):
    token = set_origin(Origin(ip_address="10.1.2.3", user_agent="pytest", source="web"))
    try:
        member_update(actor=world.jiefang_officer, member=world.jiefang_member, employer="新单位")
    finally:
        from gonghui.audit.context import _origin

        _origin.reset(token)
    event = AuditEvent.objects.filter(
        action="update", object_id=str(world.jiefang_member.pk)
    ).latest("id")
    assert event.actor_id == world.jiefang_officer.pk
    assert event.actor_label == "jiefang_staff"
    assert event.changes["employer"][1] == "新单位"
    assert event.ip_address == "10.1.2.3"
    assert event.org_id == world.jiefang_base.pk


def test_audit_rows_refuse_model_updates_and_deletes(world):
    event = audit_record(actor=None, action=AuditAction.UPDATE, object_type="x", object_id="1")
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


def test_database_refuses_update_of_audit_rows(world):
    event = audit_record(actor=None, action=AuditAction.UPDATE, object_type="x", object_id="1")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="tampered")
    event.refresh_from_db()
    assert event.reason == ""


def test_database_refuses_delete_of_audit_rows_on_postgresql(world):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite blocks UPDATE in the database; DELETE is refused by the model layer")
    event = audit_record(actor=None, action=AuditAction.UPDATE, object_type="x", object_id="1")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.parametrize(
    ("behind_proxy", "forwarded", "expected"),
    [
        # without a proxy the header is the client's own words: ignored
        (False, "1.2.3.4", "10.0.0.9"),
        # behind the proxy: the entry the proxy appended, not what the client sent before it
        (True, "1.2.3.4", "1.2.3.4"),
        (True, "6.6.6.6, 1.2.3.4", "1.2.3.4"),
        (True, "6.6.6.6,2001:db8::1", "2001:db8::1"),
        # garbage where the address should be, or no header: the connection's address
        (True, "1.2.3.4, unknown", "10.0.0.9"),
        (True, "<script>", "10.0.0.9"),
        (True, "", "10.0.0.9"),
        (True, "１.２.３.４", "10.0.0.9"),
    ],
)
def test_client_ip_trusts_only_what_the_proxy_appended(settings, behind_proxy, forwarded, expected):
    from django.test import RequestFactory

    from gonghui.audit.context import client_ip

    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if behind_proxy else None
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
