"""The columns of the member import file and the labels accepted in the choice columns.

The header texts are a file format shared with union clerks (the downloadable template is in
Chinese, as the issue asks), so they are data here, not translatable UI strings. English aliases
are accepted too, so a file made from an English template also imports.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from django.utils import translation

from gonghui.members.models import Education, NewFormKind, PoliticalStatus, WorkerCategory


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    required: bool = False
    aliases: tuple[str, ...] = ()

    @property
    def template_header(self) -> str:
        return self.header + ("*" if self.required else "")


COLUMNS: tuple[Column, ...] = (
    Column("name", "姓名", True, ("name", "职工姓名", "会员姓名")),
    Column("id_number", "身份证号", True, ("身份证号码", "公民身份号码", "证件号码", "id number")),
    Column("phone", "手机号", False, ("手机号码", "手机", "联系电话", "phone", "mobile")),
    Column("employer", "工作单位", False, ("单位", "单位名称", "employer")),
    Column("category", "职工类别", False, ("人员类别", "类别", "worker category", "category")),
    Column("new_form_kind", "新就业形态类型", False, ("新就业形态", "new-form worker kind")),
    Column("education", "学历", False, ("文化程度", "education")),
    Column("political_status", "政治面貌", False, ("political status",)),
    Column("joined_on", "入会日期", False, ("入会时间", "joined on", "join date")),
    Column("card_number", "会员卡号", False, ("会员服务卡号", "银行卡号", "card number")),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}


def header_key(text: object) -> str:
    """Loose form of a header cell: NFKC, no spaces, no required-marker star, lower case."""
    value = unicodedata.normalize("NFKC", str(text or "")).strip().rstrip("*").strip()
    return "".join(value.split()).lower()


HEADER_LOOKUP: dict[str, str] = {}
for _column in COLUMNS:
    for _text in (_column.header, _column.key, *_column.aliases):
        HEADER_LOOKUP[header_key(_text)] = _column.key


# Chinese labels as union clerks write them (the glossary's terms plus common variants).
_CHINESE_LABELS: dict[str, dict[str, str]] = {
    "category": {
        "职工": WorkerCategory.EMPLOYEE,
        "在职职工": WorkerCategory.EMPLOYEE,
        "企业职工": WorkerCategory.EMPLOYEE,
        "农民工": WorkerCategory.MIGRANT_WORKER,
        "灵活就业人员": WorkerCategory.FLEXIBLE_WORKER,
        "灵活就业": WorkerCategory.FLEXIBLE_WORKER,
        "新就业形态劳动者": WorkerCategory.NEW_FORM_WORKER,
        "新就业形态": WorkerCategory.NEW_FORM_WORKER,
    },
    "new_form_kind": {
        "货车司机": NewFormKind.TRUCK_DRIVER,
        "网约车司机": NewFormKind.RIDE_HAILING_DRIVER,
        "网约车驾驶员": NewFormKind.RIDE_HAILING_DRIVER,
        "快递员": NewFormKind.COURIER,
        "快递小哥": NewFormKind.COURIER,
        "外卖配送员": NewFormKind.FOOD_DELIVERY_RIDER,
        "外卖骑手": NewFormKind.FOOD_DELIVERY_RIDER,
        "外卖员": NewFormKind.FOOD_DELIVERY_RIDER,
    },
    "education": {
        "小学及以下": Education.PRIMARY,
        "小学": Education.PRIMARY,
        "初中": Education.JUNIOR,
        "高中": Education.SENIOR,
        "中专": Education.SENIOR,
        "职高": Education.SENIOR,
        "高中/中专": Education.SENIOR,
        "高中、中专": Education.SENIOR,
        "大专": Education.COLLEGE,
        "专科": Education.COLLEGE,
        "本科": Education.BACHELOR,
        "大学本科": Education.BACHELOR,
        "研究生": Education.POSTGRADUATE,
        "硕士": Education.POSTGRADUATE,
        "博士": Education.POSTGRADUATE,
        "研究生及以上": Education.POSTGRADUATE,
    },
    "political_status": {
        "中共党员": PoliticalStatus.CPC_MEMBER,
        "党员": PoliticalStatus.CPC_MEMBER,
        "中共预备党员": PoliticalStatus.CPC_PROBATIONARY,
        "预备党员": PoliticalStatus.CPC_PROBATIONARY,
        "共青团员": PoliticalStatus.CYL_MEMBER,
        "团员": PoliticalStatus.CYL_MEMBER,
        "民主党派": PoliticalStatus.DEMOCRATIC_PARTY,
        "民主党派成员": PoliticalStatus.DEMOCRATIC_PARTY,
        "群众": PoliticalStatus.MASSES,
    },
}

CHOICES = {
    "category": WorkerCategory,
    "new_form_kind": NewFormKind,
    "education": Education,
    "political_status": PoliticalStatus,
}


def choice_lookup(key: str) -> dict[str, str]:
    """Every accepted spelling (code, English label, translated label, Chinese label) -> code."""
    choices = CHOICES[key]
    table: dict[str, str] = {}
    for value, label in choices.choices:
        table[header_key(value)] = value
        with translation.override("en"):
            table[header_key(str(label))] = value
        table[header_key(str(label))] = value
        with translation.override("zh-hans"):
            table[header_key(str(label))] = value
    for text, value in _CHINESE_LABELS[key].items():
        table[header_key(text)] = value
    return table


def choice_examples(key: str) -> list[str]:
    """The Chinese labels shown in the template and in error messages, one per value."""
    seen: dict[str, str] = {}
    for text, value in _CHINESE_LABELS[key].items():
        seen.setdefault(value, text)
    return list(seen.values())


# The synthetic identity number of the template's example row (valid check digit, no real person);
# a row carrying it is refused, so a forgotten example never becomes a member.
TEMPLATE_EXAMPLE_ID = "410802199001010010"
