"""Seed the BIN table with debit-card prefixes of the two banks that issue union member cards.

The table is configurable in the admin; a federation checks these against its banks' current lists.
"""

from django.db import migrations

SEED = [
    # 中国邮政储蓄银行 debit cards
    ("621799", "中国邮政储蓄银行", 19),
    ("622188", "中国邮政储蓄银行", 19),
    ("621098", "中国邮政储蓄银行", 19),
    ("620062", "中国邮政储蓄银行", 19),
    ("621095", "中国邮政储蓄银行", 19),
    ("623218", "中国邮政储蓄银行", 19),
    # 中原银行 debit cards
    ("623595", "中原银行", 19),
    ("621669", "中原银行", 19),
    ("623059", "中原银行", 19),
]


def seed(apps, schema_editor):
    CardBin = apps.get_model("members", "CardBin")
    for prefix, bank, length in SEED:
        CardBin.objects.get_or_create(
            prefix=prefix, defaults={"bank_name": bank, "card_length": length, "is_member_card": True}
        )


def unseed(apps, schema_editor):
    apps.get_model("members", "CardBin").objects.filter(prefix__in=[p for p, _b, _l in SEED]).delete()


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
