from __future__ import annotations

import datetime as dt
import random

import factory
from stdnum.cn import ric

from gonghui.members.models import Member, WorkerCategory
from gonghui.members.services import member_register

JIAOZUO_COUNTIES = [
    "410802",
    "410803",
    "410804",
    "410811",
    "410821",
    "410822",
    "410823",
    "410825",
    "410882",
    "410883",
]


def make_id_number(
    *,
    region: str = "410802",
    birth: dt.date | None = None,
    seq: int | None = None,
    female: bool | None = None,
) -> str:
    """A synthetic identity number with a valid check digit (never a real person's)."""
    rnd = random.Random(seq)
    birth = birth or dt.date(1970 + rnd.randrange(35), 1 + rnd.randrange(12), 1 + rnd.randrange(28))
    order = rnd.randrange(0, 999) if seq is None else seq % 999
    if female is not None:
        order = order - (order % 2) + (0 if female else 1)
        order = min(order, 998)
    body = f"{region}{birth:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


class MemberFactory(factory.Factory):
    class Meta:
        model = Member

    org = None
    name = factory.Sequence(
        lambda n: (
            ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "黄强"][n % 8]
            + ("" if n < 8 else str(n))
        )
    )
    id_number = factory.Sequence(lambda n: make_id_number(seq=n + 1000))
    phone = factory.Sequence(lambda n: f"139{n:08d}")
    category = WorkerCategory.EMPLOYEE
    employer = "焦作测试有限公司"

    @classmethod
    def _create(cls, model_class: type[Member], *args: object, **kwargs: object) -> Member:
        return member_register(actor=None, **kwargs)  # type: ignore[arg-type]

    _build = _create
