"""Synthetic, valid member rows for benchmarks (never real people: the sequence numbers and the
birth dates are generated, the check digit is computed)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

from stdnum.cn import ric

REGIONS = ("410802", "410803", "410804", "410811", "410821", "410822", "410823", "410825")
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"
CATEGORIES = ("职工", "农民工", "灵活就业人员", "新就业形态劳动者")
KINDS = ("货车司机", "网约车司机", "快递员", "外卖配送员")
EDUCATION = ("初中", "高中", "大专", "本科", "")
POLITICAL = ("群众", "中共党员", "共青团员", "")
HEADERS = (
    "姓名*",
    "身份证号*",
    "手机号",
    "工作单位",
    "职工类别",
    "新就业形态类型",
    "学历",
    "政治面貌",
    "入会日期",
    "会员卡号",
)


def id_number(n: int) -> str:
    """The n-th synthetic identity number: unique for n < 8 × 20,000 days × 999."""
    region = REGIONS[n % len(REGIONS)]
    k = n // len(REGIONS)
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=k % 15000)
    order = (k // 15000) % 999
    body = f"{region}{birth:%Y%m%d}{order:03d}"
    return body + ric.calc_check_digit(body + "0")


def rows(count: int, *, seed: int = 1) -> Iterator[tuple[str, ...]]:
    rnd = random.Random(seed)
    for n in range(count):
        category = CATEGORIES[rnd.randrange(len(CATEGORIES))]
        kind = KINDS[rnd.randrange(len(KINDS))] if category == "新就业形态劳动者" else ""
        name = (
            SURNAMES[rnd.randrange(len(SURNAMES))]
            + GIVEN[rnd.randrange(len(GIVEN))]
            + (GIVEN[rnd.randrange(len(GIVEN))] if rnd.random() < 0.6 else "")
        )
        yield (
            name,
            id_number(n),
            f"13{rnd.randrange(10**9):09d}",
            f"焦作示例{n % 500:03d}有限公司",
            category,
            kind,
            EDUCATION[rnd.randrange(len(EDUCATION))],
            POLITICAL[rnd.randrange(len(POLITICAL))],
            f"{2000 + rnd.randrange(24)}-{1 + rnd.randrange(12):02d}-{1 + rnd.randrange(28):02d}",
            "",
        )


def write_xlsx(path: Path, count: int, *, seed: int = 1) -> None:
    """Write-only openpyxl: memory stays flat however many rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("会员")
    sheet.append(list(HEADERS))
    for row in rows(count, seed=seed):
        sheet.append([value or None for value in row])
    workbook.save(path)
