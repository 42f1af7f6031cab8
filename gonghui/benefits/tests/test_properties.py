"""Property tests: whatever sequence of grabs, scans, reversals and expiries happens, no voucher is
both open and used, every used voucher has exactly one live redemption, and the books balance."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gonghui.benefits.models import Redemption, Voucher, VoucherStatus
from gonghui.benefits.services import (
    redemption_reverse,
    voucher_grab,
    voucher_redeem,
    vouchers_expire,
)
from gonghui.core.errors import ApplicationError
from gonghui.ledger.selectors import ledger_total_fen

ACTIONS = st.lists(
    st.tuples(st.sampled_from(["grab", "redeem", "reverse", "expire"]), st.integers(0, 5)),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
def test_voucher_states_are_exclusive(world, shop, make_campaign, carded, actions):
    campaign = make_campaign(quota=4)
    members = [carded() for _ in range(6)]
    for action, i in actions:
        try:
            if action == "grab":
                voucher_grab(campaign=campaign, member=members[i])
            elif action == "redeem":
                v = Voucher.objects.filter(campaign=campaign).order_by("pk")[i : i + 1].first()
                if v:
                    voucher_redeem(
                        code=v.code,
                        store=shop.store,
                        clerk=shop.clerk,
                        receipt_no="R",
                        amount_fen=1,
                    )
            elif action == "reverse":
                r = (
                    Redemption.objects.filter(voucher__campaign=campaign)
                    .order_by("pk")[i : i + 1]
                    .first()
                )
                if r:
                    redemption_reverse(redemption=r, supervisor=shop.supervisor, reason="测试")
            elif action == "expire" and i == 0:
                vouchers_expire(now=campaign.redeem_until + dt.timedelta(seconds=1))
        except ApplicationError:
            pass
        for v in Voucher.objects.filter(campaign=campaign):
            live = Redemption.objects.filter(voucher=v, reversed_at__isnull=True).count()
            assert (v.status == VoucherStatus.USED) == (live == 1)
            assert (v.status == VoucherStatus.USED) == (v.used_at is not None)
            assert live <= 1
        campaign.refresh_from_db()
        issued = Voucher.objects.filter(campaign=campaign).count()
        assert issued + campaign.remaining == campaign.quota
        assert ledger_total_fen() == 0
