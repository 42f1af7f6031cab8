import pytest

from gonghui.audit.models import AuditEvent
from gonghui.core.errors import ApplicationError
from gonghui.orgs.models import Org, OrgKind
from gonghui.orgs.selectors import coverage, org_list
from gonghui.orgs.services import org_create, org_move
from gonghui.orgs.tests.factories import OrgFactory


def test_paths_follow_the_tree(world):
    assert world.city.path == f"/{world.city.pk}/"
    assert world.jiefang_base.path == f"{world.jiefang_township.path}{world.jiefang_base.pk}/"
    assert world.jiefang_base.depth == 3


def test_move_subtree_rewrites_every_path(world):
    other_township = OrgFactory(
        parent=world.zhongzhan, kind=OrgKind.TOWNSHIP_UNION, name="府城街道工会联合会"
    )
    child = OrgFactory(parent=world.jiefang_township, kind=OrgKind.BASE_UNION, name="子单位工会")
    org_move(
        actor=world.city_admin,
        org=world.jiefang_township,
        new_parent=world.zhongzhan,
        reason="区划调整",
    )
    for org in Org.objects.filter(
        pk__in=[world.jiefang_township.pk, world.jiefang_base.pk, child.pk]
    ):
        parent = org.parent
        assert org.path == f"{parent.path}{org.pk}/"
        assert org.depth == parent.depth + 1
    assert other_township.path.startswith(world.zhongzhan.path)
    assert AuditEvent.objects.filter(
        action="move", object_id=str(world.jiefang_township.pk)
    ).exists()
    # jiefang officer no longer sees the moved subtree; zhongzhan officer does
    assert not org_list(actor=world.jiefang_officer).filter(pk=world.jiefang_base.pk).exists()
    assert org_list(actor=world.zhongzhan_officer).filter(pk=world.jiefang_base.pk).exists()


def test_move_under_own_descendant_is_refused(world):
    with pytest.raises(ApplicationError) as exc:
        org_move(actor=world.city_admin, org=world.jiefang, new_parent=world.jiefang_township)
    assert exc.value.code in {"move_cycle", "kind_not_allowed"}


def test_sibling_officer_cannot_create_under_other_district(world):
    from gonghui.core.errors import PermissionDenied

    before = Org.objects.count()
    with pytest.raises(PermissionDenied):
        org_create(
            actor=world.zhongzhan_officer,
            parent=world.jiefang,
            kind=OrgKind.BASE_UNION,
            name="越权工会",
        )
    assert Org.objects.count() == before


def test_uscc_checksum_failure_needs_a_reason(world):
    bad = "81410800MC1234567X"
    with pytest.raises(ApplicationError) as exc:
        org_create(
            actor=world.city_admin,
            parent=world.jiefang,
            kind=OrgKind.BASE_UNION,
            name="甲工会",
            uscc=bad,
        )
    assert exc.value.code in {"uscc_checksum", "uscc_format"}


def test_coverage_counts_townships_with_a_union(world):
    OrgFactory(parent=world.jiefang, kind=OrgKind.TOWNSHIP_UNION, name="空白街道工会联合会")
    row = next(c for c in coverage(actor=world.city_admin) if c.kind == OrgKind.TOWNSHIP_UNION)
    assert (row.covered, row.total) == (1, 2)
