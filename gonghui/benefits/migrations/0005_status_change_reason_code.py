"""A campaign's status change keeps why the platform moved it as a code (``reason_code``) and
what a person typed as text (``reason``). Rows written before carry the services' fixed English
reasons in ``reason``; those become codes, anything else stays the text it was."""

from django.db import migrations, models

# The services' fixed reasons before codes, by the status they moved a campaign to.
LEGACY_REASONS = {
    ("release time", "open"): "release_time",
    ("window ended", "closed"): "window_ended",
    ("settlement approved", "settling"): "settlement_approved",
}
NOTICE_CLOSED_PREFIX = "notice closed by "


def reason_from_legacy(reason: str, new: str) -> tuple[str, str]:
    """(reason_code, reason) for a row written before the codes."""
    code = LEGACY_REASONS.get((reason, new))
    if code:
        return code, ""
    if new == "settled" and reason.startswith(NOTICE_CLOSED_PREFIX):
        # "notice closed by <actor label>": the row's own actor_label already names who.
        return "notice_closed", ""
    return "", reason


def legacy_from_reason(reason_code: str, reason: str, actor_label: str) -> str:
    """The ``reason`` text the code before this migration wrote and read."""
    if not reason_code or reason:
        return reason
    if reason_code == "notice_closed":
        return f"{NOTICE_CLOSED_PREFIX}{actor_label}"[:300]
    return next(text for (text, _new), code in LEGACY_REASONS.items() if code == reason_code)


def forwards(apps, schema_editor):
    Change = apps.get_model("benefits", "CampaignStatusChange")
    moved = []
    for change in Change.objects.exclude(reason="").only("id", "reason", "new").iterator():
        code, text = reason_from_legacy(change.reason, change.new)
        if code:
            change.reason_code, change.reason = code, text
            moved.append(change)
    Change.objects.bulk_update(moved, ["reason_code", "reason"], batch_size=1000)


def backwards(apps, schema_editor):
    Change = apps.get_model("benefits", "CampaignStatusChange")
    moved = []
    for change in Change.objects.exclude(reason_code="").iterator():
        change.reason = legacy_from_reason(change.reason_code, change.reason, change.actor_label)
        moved.append(change)
    Change.objects.bulk_update(moved, ["reason"], batch_size=1000)


class Migration(migrations.Migration):

    dependencies = [
        ('benefits', '0004_plain_indexes'),
    ]

    operations = [
        migrations.AddField(
            model_name='campaignstatuschange',
            name='reason_code',
            field=models.CharField(blank=True, choices=[('release_time', 'The release time came.'), ('window_ended', 'The redemption window ended.'), ('settlement_approved', "A store's settlement was approved."), ('notice_closed', 'The public notice was closed and the payments posted.')], max_length=32, verbose_name="platform's reason"),
        ),
        migrations.AlterField(
            model_name='campaignstatuschange',
            name='reason',
            field=models.CharField(blank=True, max_length=300, verbose_name='reason'),
        ),
        # Before the data step: on PostgreSQL a table cannot be altered once the same transaction
        # has updated its rows (pending trigger events).
        migrations.AddConstraint(
            model_name='campaignstatuschange',
            constraint=models.CheckConstraint(condition=models.Q(('reason_code__in', ['', 'release_time', 'window_ended', 'settlement_approved', 'notice_closed'])), name='campaign_change_reason_valid'),
        ),
        migrations.RunPython(forwards, backwards),
    ]
