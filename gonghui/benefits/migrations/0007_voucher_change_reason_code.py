"""A voucher's status change keeps why the platform moved it as a code (``reason_code``) and
what a person typed as text (``reason``). Rows written before carry the clock's fixed English
"window ended" in ``reason``; that becomes a code. A voucher cancelled with its campaign gets the
campaign's code and keeps the manager's words as typed; anything else stays the text it was."""

from django.db import migrations, models

# The services' fixed reasons before codes, by the status they moved a voucher to.
LEGACY_REASONS = {
    ("window ended", "expired"): "window_ended",
}
# Only a campaign's cancellation cancelled vouchers; its ``reason`` is the manager's typed words.
CANCELLED, CAMPAIGN_CANCELLED = "cancelled", "campaign_cancelled"


def reason_from_legacy(reason: str, new: str) -> tuple[str, str]:
    """(reason_code, reason) for a row written before the codes."""
    code = LEGACY_REASONS.get((reason, new))
    if code:
        return code, ""
    if new == CANCELLED:
        return CAMPAIGN_CANCELLED, reason
    return "", reason


def legacy_from_reason(reason_code: str, reason: str) -> str:
    """The ``reason`` text the code before this migration wrote and read."""
    if not reason_code or reason:
        return reason
    return next((text for (text, _new), code in LEGACY_REASONS.items() if code == reason_code), "")


# Set-based: a union's expired vouchers run to hundreds of thousands of rows. Each UPDATE is
# one case of the functions above (tests hold the two to the same answers).
def forwards(apps, schema_editor):
    Change = apps.get_model("benefits", "VoucherStatusChange")
    for (text, new), code in LEGACY_REASONS.items():
        Change.objects.filter(reason_code="", new=new, reason=text).update(
            reason_code=code, reason=""
        )
    Change.objects.filter(reason_code="", new=CANCELLED).update(reason_code=CAMPAIGN_CANCELLED)


def backwards(apps, schema_editor):
    Change = apps.get_model("benefits", "VoucherStatusChange")
    for (text, _new), code in LEGACY_REASONS.items():
        Change.objects.filter(reason_code=code, reason="").update(reason=text)


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0006_campaign_amount_limits"),
    ]

    operations = [
        migrations.AddField(
            model_name="voucherstatuschange",
            name="reason_code",
            field=models.CharField(
                blank=True,
                choices=[
                    ("window_ended", "The redemption window ended."),
                    ("campaign_cancelled", "The campaign was cancelled."),
                ],
                max_length=32,
                verbose_name="platform's reason",
            ),
        ),
        migrations.AlterField(
            model_name="voucherstatuschange",
            name="reason",
            field=models.CharField(blank=True, max_length=300, verbose_name="reason"),
        ),
        # Before the data step: on PostgreSQL a table cannot be altered once the same transaction
        # has updated its rows (pending trigger events).
        migrations.AddConstraint(
            model_name="voucherstatuschange",
            constraint=models.CheckConstraint(
                condition=models.Q(("reason_code__in", ["", "window_ended", "campaign_cancelled"])),
                name="voucher_change_reason_valid",
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
