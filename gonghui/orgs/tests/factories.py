from __future__ import annotations

import factory

from gonghui.orgs.models import Org, OrgKind
from gonghui.orgs.services import org_create


class OrgFactory(factory.Factory):
    """Builds organisations through the service, so paths and audit rows are real."""

    class Meta:
        model = Org

    parent: Org | None = None
    kind = OrgKind.BASE_UNION
    name = factory.Sequence(lambda n: f"测试单位{n}工会委员会")

    @classmethod
    def _create(cls, model_class: type[Org], *args: object, **kwargs: object) -> Org:
        parent = kwargs.pop("parent")
        return org_create(actor=None, parent=parent, **kwargs)  # type: ignore[arg-type]

    _build = _create
