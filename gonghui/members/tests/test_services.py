"""members.services: register, update, transfer, leave, rejoin, cards, reveal, join applications."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from gonghui.audit.models import AuditAction, AuditEvent
from gonghui.core import crypto
from gonghui.core.errors import ApplicationError, NotFound, PermissionDenied
from gonghui.members import selectors
from gonghui.members.models import (
    CardBin,
    JoinApplication,
    JoinApplicationStatusChange,
    JoinStatus,
    Member,
    MemberCard,
    Membership,
    MemberStatus,
    NewFormKind,
    WorkerCategory,
)
from gonghui.members.services import (
    card_bin_lookup,
    join_application_submit,
    join_application_transition,
    member_card_set,
    member_leave,
    member_register,
    member_rejoin,
    member_reveal,
    member_transfer,
    member_update,
)
from gonghui.members.tests.factories import make_id_number
from gonghui.members.tests.helpers import luhn_broken, luhn_complete
from gonghui.orgs.models import OrgKind
from gonghui.orgs.tests.factories import OrgFactory

TODAY = timezone.localdate


def _register(world, actor=None, **kw):
    data = {
        "org": world.jiefang_base,
        "id_number": make_id_number(region="410802", seq=501),
        "name": "钱注册",
        "phone": "13700000501",
        "joined_on": dt.date(2020, 1, 1),
    }
    data.update(kw)
    return member_register(actor=actor or world.jiefang_officer, **data)


# --- Register ------------------------------------------------------------------------------------


def test_register_seals_and_opens_membership(world):
    number = make_id_number(region="410802", seq=501, female=True)
    m = _register(world, id_number=number)
    assert crypto.decrypt(m.id_number_enc) == number
    assert m.id_number_masked != number and m.id_tail == number[-4:]
    assert m.gender == "F" and m.name_initials == "qzc"
    ms = Membership.objects.get(member=m)
    assert ms.org == world.jiefang_base and ms.ended_on is None and ms.start_kind == "join"
    assert ms.started_by == world.jiefang_officer
    created = AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="members.member", object_id=str(m.pk)
    )
    assert created.count() == 1


@pytest.mark.parametrize(
    "kw, code",
    [
        ({"name": ""}, "name_empty"),
        ({"name": "名" * 51}, "name_long"),
        ({"name": "<script>"}, "name_chars"),
        ({"id_number": ""}, "id_empty"),
        ({"id_number": "4.10802E+17"}, "id_excel_number"),
        ({"id_number": "41080219900101"}, "id_length"),
        ({"phone": "023-1234"}, "phone_format"),
        ({"category": "boss"}, "category_invalid"),
        ({"category": WorkerCategory.NEW_FORM_WORKER}, "new_form_kind_missing"),
        ({"new_form_kind": NewFormKind.COURIER}, "new_form_kind_unexpected"),
        ({"education": "phd"}, "education_invalid"),
        ({"joined_on": dt.date(2999, 1, 1)}, "joined_future"),
        ({"card_number": "12ab"}, "card_format"),
    ],
)
def test_register_bad_input(world, kw, code):
    before = (Member.objects.count(), Membership.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ApplicationError) as exc:
        _register(world, **kw)
    assert exc.value.code == code
    assert (
        Member.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    ) == before


def test_register_checksum_and_duplicate(world):
    good = make_id_number(region="410802", seq=502)
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    with pytest.raises(ApplicationError) as exc:
        _register(world, id_number=wrong)
    assert exc.value.code == "id_checksum"
    number = crypto.decrypt(world.jiefang_member.id_number_enc)
    with pytest.raises(ApplicationError) as exc:
        _register(world, id_number=" " + number.lower())
    assert exc.value.code == "id_taken" and exc.value.field == "id_number"


def test_register_full_width(world):
    number = make_id_number(region="410802", seq=503)
    typed = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９ｘ"))
    m = _register(world, id_number=typed, phone="１３７０００００５０３")
    assert crypto.decrypt(m.id_number_enc) == number and m.phone == "13700000503"


def test_register_permissions(world):
    with pytest.raises(PermissionDenied):
        _register(world, actor=world.zhongzhan_officer)
    with pytest.raises(PermissionDenied):
        _register(world, actor=world.jiefang_viewer)
    with pytest.raises(ApplicationError) as exc:
        _register(world, org=world.jiefang_township)
    assert exc.value.code == "org_not_base"
    assert not Member.objects.filter(name="钱注册").exists()


def test_register_rolls_back_when_card_is_taken(world):
    number = luhn_complete("621799")
    member_card_set(actor=None, member=world.zhongzhan_member, card_number=number)
    with pytest.raises(ApplicationError) as exc:
        _register(world, card_number=number)
    assert exc.value.code == "card_taken"
    assert not Member.objects.filter(name="钱注册").exists()


# --- Update ------------------------------------------------------------------------------------


def test_update_records_diff(world):
    m = member_update(actor=world.jiefang_officer, member=world.jiefang_member, employer="新单位")
    assert m.employer == "新单位"
    event = AuditEvent.objects.filter(
        action=AuditAction.UPDATE, object_type="members.member", object_id=str(m.pk)
    ).get()
    assert event.changes["employer"][1] == "新单位"


def test_update_category_switch_clears_kind(world):
    m = member_update(
        actor=world.jiefang_officer,
        member=world.jiefang_member,
        category=WorkerCategory.NEW_FORM_WORKER,
        new_form_kind=NewFormKind.TRUCK_DRIVER,
    )
    assert m.new_form_kind == NewFormKind.TRUCK_DRIVER
    m = member_update(actor=world.jiefang_officer, member=m, category=WorkerCategory.EMPLOYEE)
    assert m.new_form_kind == ""


def test_update_no_change_no_audit(world):
    before = AuditEvent.objects.count()
    member_update(actor=world.jiefang_officer, member=world.jiefang_member, name="王小明")
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize(
    "kw, code",
    [
        ({"name": ""}, "name_empty"),
        ({"name": "王\u202e明"}, "name_chars"),
        ({"new_form_kind": NewFormKind.COURIER}, "new_form_kind_unexpected"),
        ({"political_status": "king"}, "political_invalid"),
    ],
)
def test_update_bad_input(world, kw, code):
    with pytest.raises(ApplicationError) as exc:
        member_update(actor=world.jiefang_officer, member=world.jiefang_member, **kw)
    assert exc.value.code == code
    m = Member.objects.get(pk=world.jiefang_member.pk)
    assert m.name == "王小明" and m.new_form_kind == "" and m.political_status == ""


def test_update_other_district_refused(world):
    with pytest.raises(PermissionDenied):
        member_update(actor=world.zhongzhan_officer, member=world.jiefang_member, name="黑客")
    assert Member.objects.get(pk=world.jiefang_member.pk).name == "王小明"


# --- Transfer, leave, rejoin -------------------------------------------------------------------


@pytest.fixture
def second_base(world):
    return OrgFactory(parent=world.jiefang_township, kind=OrgKind.BASE_UNION, name="焦西第二工会")


def test_transfer_closes_and_opens_membership(world, second_base):
    m = member_transfer(
        actor=world.jiefang_officer,
        member=world.jiefang_member,
        to_org=second_base,
        on=TODAY(),
        reason="调动",
    )
    assert m.org == second_base
    old, new = Membership.objects.filter(member=m).order_by("id")
    assert old.ended_on == TODAY() and old.end_kind == "transfer" and old.ended_by is not None
    assert new.org == second_base and new.ended_on is None and new.start_kind == "transfer"
    assert AuditEvent.objects.filter(
        action=AuditAction.MOVE, object_type="members.member", object_id=str(m.pk)
    ).exists()


@pytest.mark.parametrize(
    "kw, exc_type, code",
    [
        ({"reason": " "}, ApplicationError, "reason_empty"),
        ({"on": dt.date(2999, 1, 1)}, ApplicationError, "date_future"),
        ({"on": dt.date(1990, 1, 1)}, ApplicationError, "date_before_start"),
        ({"to_org": "same"}, ApplicationError, "same_org"),
        ({"to_org": "zhongzhan"}, PermissionDenied, "forbidden"),
        ({"to_org": "township"}, ApplicationError, "org_not_base"),
    ],
)
def test_transfer_bad_input(world, second_base, kw, exc_type, code):
    orgs = {
        "same": world.jiefang_base,
        "zhongzhan": world.zhongzhan_base,
        "township": world.jiefang_township,
    }
    args = {"to_org": second_base, "on": TODAY(), "reason": "调动"}
    args.update(kw)
    if isinstance(args["to_org"], str):
        args["to_org"] = orgs[args["to_org"]]
    with pytest.raises(exc_type) as exc:
        member_transfer(actor=world.jiefang_officer, member=world.jiefang_member, **args)
    assert exc.value.code == code
    m = Member.objects.get(pk=world.jiefang_member.pk)
    assert m.org == world.jiefang_base and m.memberships.count() == 1


def test_leave_and_rejoin(world, second_base):
    m = member_leave(
        actor=world.jiefang_officer, member=world.jiefang_member, on=TODAY(), reason="离职"
    )
    assert m.status == MemberStatus.LEFT
    assert m.memberships.get().end_kind == "leave"
    with pytest.raises(ApplicationError) as exc:
        member_leave(actor=world.jiefang_officer, member=m, on=TODAY(), reason="再次")
    assert exc.value.code == "already_left"
    with pytest.raises(ApplicationError) as exc:
        member_transfer(
            actor=world.jiefang_officer, member=m, to_org=second_base, on=TODAY(), reason="x"
        )
    assert exc.value.code == "not_active"
    m = member_rejoin(actor=world.jiefang_officer, member=m, org=second_base, on=TODAY())
    assert m.status == MemberStatus.ACTIVE and m.org == second_base and m.joined_on == TODAY()
    assert m.memberships.filter(ended_on__isnull=True).get().org == second_base
    assert m.memberships.count() == 2
    with pytest.raises(ApplicationError) as exc:
        member_rejoin(actor=world.jiefang_officer, member=m, org=second_base, on=TODAY())
    assert exc.value.code == "already_active"


@pytest.mark.parametrize(
    "kw, code",
    [
        ({"reason": ""}, "reason_empty"),
        ({"on": dt.date(2999, 1, 1)}, "date_future"),
        ({"on": dt.date(1990, 1, 1)}, "date_before_start"),
    ],
)
def test_leave_bad_input(world, kw, code):
    args = {"on": TODAY(), "reason": "离职"}
    args.update(kw)
    with pytest.raises(ApplicationError) as exc:
        member_leave(actor=world.jiefang_officer, member=world.jiefang_member, **args)
    assert exc.value.code == code
    assert Member.objects.get(pk=world.jiefang_member.pk).status == MemberStatus.ACTIVE


def test_leave_other_district_refused(world):
    with pytest.raises(PermissionDenied):
        member_leave(
            actor=world.zhongzhan_officer, member=world.jiefang_member, on=TODAY(), reason="x"
        )
    assert Member.objects.get(pk=world.jiefang_member.pk).status == MemberStatus.ACTIVE


@pytest.mark.parametrize(
    "on, code",
    [(dt.date(2999, 1, 1), "date_future"), ("before_leaving", "date_before_leaving")],
)
def test_rejoin_date_must_fall_between_leaving_and_today(world, on, code):
    left_on = TODAY()
    m = member_leave(
        actor=world.jiefang_officer, member=world.jiefang_member, on=left_on, reason="离职"
    )
    if on == "before_leaving":
        on = left_on - dt.timedelta(days=1)
    before = (Membership.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ApplicationError) as exc:
        member_rejoin(actor=world.jiefang_officer, member=m, org=world.jiefang_base, on=on)
    assert (exc.value.code, exc.value.field) == (code, "on")
    if code == "date_before_leaving":
        assert left_on.isoformat() in str(exc.value.message)
    assert (Membership.objects.count(), AuditEvent.objects.count()) == before
    assert Member.objects.get(pk=m.pk).status == MemberStatus.LEFT
    # The day they left is a valid day to come back.
    m = member_rejoin(actor=world.jiefang_officer, member=m, org=world.jiefang_base, on=left_on)
    assert m.status == MemberStatus.ACTIVE


def test_registering_someone_who_left_brings_them_back(world):
    left = member_leave(
        actor=world.zhongzhan_officer, member=world.zhongzhan_member, on=TODAY(), reason="离职"
    )
    number = crypto.decrypt(left.id_number_enc)
    card = luhn_complete("623595")
    m = _register(
        world,
        id_number=number,
        name="李秀英",
        phone="13700000999",
        joined_on=TODAY(),
        card_number=card,
    )
    assert (
        m.pk == left.pk and Member.objects.filter(id_number_hash=left.id_number_hash).count() == 1
    )
    m.refresh_from_db()
    assert (m.status, m.org, m.phone, m.joined_on) == (
        MemberStatus.ACTIVE,
        world.jiefang_base,
        "13700000999",
        TODAY(),
    )
    assert [(x.org, x.ended_on is None) for x in m.memberships.order_by("id")] == [
        (world.zhongzhan_base, False),
        (world.jiefang_base, True),
    ]
    assert m.cards.get(is_current=True).bank_name == "中原银行"
    moves = AuditEvent.objects.filter(object_id=str(m.pk), action=AuditAction.TRANSITION)
    assert moves.filter(changes__status=["left", "active"]).exists()


def test_registering_someone_who_left_with_a_date_before_they_left_changes_nothing(world):
    left = member_leave(
        actor=world.zhongzhan_officer, member=world.zhongzhan_member, on=TODAY(), reason="离职"
    )
    before = (Membership.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ApplicationError) as exc:
        _register(
            world, id_number=crypto.decrypt(left.id_number_enc), joined_on=dt.date(2020, 1, 1)
        )
    assert (exc.value.code, exc.value.field) == ("date_before_leaving", "joined_on")
    assert (Membership.objects.count(), AuditEvent.objects.count()) == before
    left.refresh_from_db()
    assert (left.status, left.org) == (MemberStatus.LEFT, world.zhongzhan_base)


def test_rejoin_into_other_district_refused(world):
    m = member_leave(actor=None, member=world.jiefang_member, on=TODAY(), reason="离职")
    with pytest.raises(PermissionDenied):
        member_rejoin(actor=world.jiefang_officer, member=m, org=world.zhongzhan_base, on=TODAY())
    assert Member.objects.get(pk=m.pk).status == MemberStatus.LEFT


# --- Cards ---------------------------------------------------------------------------------------


def test_card_bin_recognition(world):
    card = member_card_set(
        actor=world.jiefang_officer,
        member=world.jiefang_member,
        card_number=luhn_complete("623595"),
    )
    assert card.bank_name == "中原银行" and card.is_member_card and card.luhn_ok
    assert card.number_masked.startswith("623595") and "*" in card.number_masked
    assert crypto.decrypt(card.number_enc) == luhn_complete("623595")


def test_card_longest_bin_wins(world):
    CardBin.objects.create(prefix="62359512", bank_name="中原银行工会卡", is_member_card=True)
    CardBin.objects.create(prefix="622202", bank_name="中国工商银行", is_member_card=False)
    assert card_bin_lookup(luhn_complete("62359512")).bank_name == "中原银行工会卡"
    assert card_bin_lookup(luhn_complete("62359599")).bank_name == "中原银行"
    card = member_card_set(
        actor=None, member=world.jiefang_member, card_number=luhn_complete("622202")
    )
    assert card.bank_name == "中国工商银行" and not card.is_member_card


def test_card_unknown_bin_and_luhn_warning(world):
    card = member_card_set(
        actor=None, member=world.jiefang_member, card_number=luhn_broken("999999", 16)
    )
    assert card.bank_name == "" and not card.is_member_card and not card.luhn_ok
    assert card.is_current


def test_card_replacement_keeps_one_current(world):
    first = member_card_set(
        actor=None, member=world.jiefang_member, card_number=luhn_complete("621799")
    )
    second = member_card_set(
        actor=None,
        member=world.jiefang_member,
        card_number="６２３５ ９５" + luhn_complete("623595")[6:],
    )
    assert MemberCard.objects.filter(member=world.jiefang_member, is_current=True).get() == second
    again = member_card_set(
        actor=None, member=world.jiefang_member, card_number=luhn_complete("621799")
    )
    assert again.pk == first.pk and again.is_current
    assert MemberCard.objects.filter(member=world.jiefang_member).count() == 2


@pytest.mark.parametrize(
    "value, code",
    [
        ("", "card_empty"),
        ("62 17 99", "card_length"),
        ("6" * 20, "card_length"),
        ("6217x9", "card_format"),
    ],
)
def test_card_bad_input(world, value, code):
    with pytest.raises(ApplicationError) as exc:
        member_card_set(actor=None, member=world.jiefang_member, card_number=value)
    assert exc.value.code == code and exc.value.field == "card_number"
    assert not MemberCard.objects.exists()


def test_card_taken(world):
    number = luhn_complete("621799")
    member_card_set(actor=None, member=world.zhongzhan_member, card_number=number)
    with pytest.raises(ApplicationError) as exc:
        member_card_set(actor=None, member=world.jiefang_member, card_number=number)
    assert exc.value.code == "card_taken"
    assert not world.jiefang_member.cards.exists()


def test_card_other_district_refused(world):
    with pytest.raises(PermissionDenied):
        member_card_set(
            actor=world.zhongzhan_officer,
            member=world.jiefang_member,
            card_number=luhn_complete("621799"),
        )
    assert not MemberCard.objects.exists()


# --- Reveal ------------------------------------------------------------------------------------


def _reveals():
    return AuditEvent.objects.filter(action=AuditAction.REVEAL)


def test_reveal_id_number(world):
    value = member_reveal(
        actor=world.city_admin, member=world.jiefang_member, field="id_number", reason="办理 会员卡"
    )
    assert value == crypto.decrypt(world.jiefang_member.id_number_enc)
    event = _reveals().get()
    assert event.reason == "办理 会员卡" and event.changes["field"][0] == "id_number"
    assert value not in str(event.changes)


def test_reveal_card(world):
    number = luhn_complete("621799")
    member_card_set(actor=None, member=world.jiefang_member, card_number=number)
    value = member_reveal(
        actor=world.city_admin, member=world.jiefang_member, field="card_number", reason="核对"
    )
    assert value == number and _reveals().count() == 1


@pytest.mark.parametrize("who", ["jiefang_officer", "zhongzhan_officer", "jiefang_viewer", None])
def test_reveal_needs_capability(world, who):
    actor = getattr(world, who) if who else None
    with pytest.raises(PermissionDenied):
        member_reveal(actor=actor, member=world.jiefang_member, field="id_number", reason="需要")
    assert not _reveals().exists()


def test_reveal_member_acting_for_self_refused(world):
    member = Member.objects.get(pk=world.jiefang_member.pk)
    member._acting = True
    with pytest.raises(PermissionDenied):
        member_reveal(actor=member, member=member, field="id_number", reason="看看")
    assert not _reveals().exists()


@pytest.mark.parametrize(
    "field, reason, exc_type",
    [
        ("id_number", "", ApplicationError),
        ("id_number", " x ", ApplicationError),
        ("password", "需要", ApplicationError),
        ("card_number", "需要", NotFound),
    ],
)
def test_reveal_bad_input(world, field, reason, exc_type):
    with pytest.raises(exc_type):
        member_reveal(
            actor=world.city_admin, member=world.jiefang_member, field=field, reason=reason
        )
    assert not _reveals().exists()


# --- Join applications --------------------------------------------------------------------------


def _apply(world, org=None, **kw):
    data = {
        "name": "李申请",
        "id_number": make_id_number(region="410802", seq=601),
        "phone": "13600000601",
        "employer": "外卖平台",
        "category": WorkerCategory.NEW_FORM_WORKER,
        "new_form_kind": NewFormKind.FOOD_DELIVERY_RIDER,
    }
    data.update(kw)
    return join_application_submit(org=org or world.jiefang_base, **data)


def test_join_flow_approve(world):
    app = _apply(world)
    assert app.status == JoinStatus.PENDING and app.id_number_masked != crypto.decrypt(
        app.id_number_enc
    )
    assert list(selectors.join_application_list(actor=world.jiefang_officer)) == [app]
    assert list(selectors.join_application_list(actor=world.zhongzhan_officer)) == []
    with pytest.raises(NotFound):
        selectors.join_application_get(actor=world.zhongzhan_officer, pk=app.pk)
    with pytest.raises(PermissionDenied):
        join_application_transition(actor=world.zhongzhan_officer, application=app, to="approved")
    with pytest.raises(PermissionDenied):
        join_application_transition(actor=world.jiefang_viewer, application=app, to="approved")
    app = join_application_transition(actor=world.jiefang_officer, application=app, to="approved")
    assert app.status == JoinStatus.APPROVED and app.decided_by == world.jiefang_officer
    member = app.member
    assert member.org == world.jiefang_base
    assert member.new_form_kind == NewFormKind.FOOD_DELIVERY_RIDER
    assert member.memberships.get().start_kind == "join"
    change = JoinApplicationStatusChange.objects.get(application=app)
    assert (change.old, change.new) == ("pending", "approved")
    with pytest.raises(ApplicationError) as exc:
        join_application_transition(actor=world.jiefang_officer, application=app, to="rejected")
    assert exc.value.code == "bad_transition"


def test_join_flow_reject(world):
    app = _apply(world)
    with pytest.raises(ApplicationError) as exc:
        join_application_transition(
            actor=world.jiefang_officer, application=app, to="rejected", reason=" "
        )
    assert exc.value.code == "reason_empty"
    app = join_application_transition(
        actor=world.jiefang_officer, application=app, to="rejected", reason="非本单位"
    )
    assert app.status == JoinStatus.REJECTED and app.member is None
    assert not Member.objects.filter(name="李申请").exists()
    # A rejected person may apply again.
    again = _apply(world)
    assert again.status == JoinStatus.PENDING


def test_join_approval_reactivates_a_leaver(world):
    number = crypto.decrypt(world.jiefang_member.id_number_enc)
    member_leave(actor=None, member=world.jiefang_member, on=TODAY(), reason="离职")
    app = _apply(world, id_number=number, name="王小明")
    app = join_application_transition(actor=world.jiefang_officer, application=app, to="approved")
    m = Member.objects.get(pk=world.jiefang_member.pk)
    assert app.member == m and m.status == MemberStatus.ACTIVE
    assert m.memberships.count() == 2


def test_join_duplicates(world):
    number = crypto.decrypt(world.zhongzhan_member.id_number_enc)
    with pytest.raises(ApplicationError) as exc:
        _apply(world, id_number=number)
    assert exc.value.code == "already_member"
    _apply(world)
    with pytest.raises(ApplicationError) as exc:
        _apply(world, org=world.zhongzhan_base)
    assert exc.value.code == "application_pending"
    assert JoinApplication.objects.count() == 1


@pytest.mark.parametrize(
    "kw, code",
    [
        ({"name": ""}, "name_empty"),
        ({"name": "<img src=x>"}, "name_chars"),
        ({"phone": ""}, "phone_empty"),
        ({"phone": "1" * 12}, "phone_format"),
        ({"id_number": "4.10802E+17"}, "id_excel_number"),
        ({"category": "ceo"}, "category_invalid"),
        ({"new_form_kind": ""}, "new_form_kind_missing"),
        ({"category": WorkerCategory.EMPLOYEE}, "new_form_kind_unexpected"),
    ],
)
def test_join_submit_bad_input(world, kw, code):
    with pytest.raises(ApplicationError) as exc:
        _apply(world, **kw)
    assert exc.value.code == code
    assert not JoinApplication.objects.exists()


def test_join_submit_to_federation_refused(world):
    with pytest.raises(ApplicationError) as exc:
        _apply(world, org=world.jiefang)
    assert exc.value.code == "org_not_base"


def test_member_profile_scoping(world):
    profile = selectors.member_profile(actor=world.jiefang_officer, pk=world.jiefang_member.pk)
    assert profile.member == world.jiefang_member and len(profile.memberships) == 1
    with pytest.raises(NotFound):
        selectors.member_profile(actor=world.zhongzhan_officer, pk=world.jiefang_member.pk)
    acting = Member.objects.get(pk=world.jiefang_member.pk)
    acting._acting = True
    assert selectors.member_profile(actor=acting, pk=acting.pk).member.pk == acting.pk
    with pytest.raises(NotFound):
        selectors.member_profile(actor=acting, pk=world.zhongzhan_member.pk)
    with pytest.raises(NotFound):
        selectors.member_profile(actor=None, pk=world.jiefang_member.pk)
