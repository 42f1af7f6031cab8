"""gonghui benefits_tick: the clock of voucher campaigns (run every minute from cron or a worker).

Opens scheduled campaigns at their release time, draws lotteries whose registration has closed,
closes campaigns after the redemption window, marks vouchers still open after the window as
expired, and (with the Redis fast path) reconciles Redis stock with the database for open grab
campaigns.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from gonghui.benefits.models import Campaign, CampaignStatus, Distribution
from gonghui.benefits.services import campaigns_advance


class Command(BaseCommand):
    help = "Open, draw, close and expire voucher campaigns on time; reconcile the grab fast path."

    def handle(self, *args: Any, **options: Any) -> None:
        result: dict[str, Any] = campaigns_advance()
        if settings.GONGHUI_GRAB_FASTPATH and settings.REDIS_URL:
            from gonghui.benefits import fastpath

            open_grabs = Campaign.objects.filter(
                status=CampaignStatus.OPEN, distribution=Distribution.GRAB
            )
            for campaign in open_grabs:
                fastpath.reconcile(campaign)
            result["reconciled"] = open_grabs.count()
        self.stdout.write(json.dumps(result))
