"""``gonghui bench grab``, ``bench spike`` and ``bench redeem`` at small numbers: a real gunicorn on the test
database, a load client in another process, and the JSON the README promises."""

from __future__ import annotations

import io
import json
import resource

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from gonghui.bench.floor import PATH as FLOOR_PATH
from gonghui.bench.floor import TABLE as FLOOR_TABLE
from gonghui.benefits import hot
from gonghui.benefits.models import Campaign
from gonghui.core.limits import raise_open_file_limit

SERVER = ["--workers", "1", "--threads", "2"]


def run_bench(*args: str) -> dict[str, object]:
    out = io.StringIO()
    call_command("bench", *args, *SERVER, stdout=out)
    return json.loads(out.getvalue())


@pytest.fixture(autouse=True)
def _fresh_hot_state():
    hot.reset_local()


@pytest.mark.django_db(transaction=True)
def test_bench_grab_small():
    report = run_bench("grab", "--members", "60", "--quota", "20", "--concurrency", "8")
    assert report["vouchers_issued"] == 20 and report["distinct_winners"] == 20
    assert report["oversold"] == 0 and report["requests"] == 60
    for key in ("throughput_rps", "p50_ms", "p99_ms", "baseline_rps"):
        assert float(report[key]) > 0, key  # type: ignore[arg-type]
    assert report["cleaned_up"] is True
    assert not Campaign.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_bench_redeem_small():
    report = run_bench("redeem", "--vouchers", "30", "--concurrency", "4", "--same-code", "6")
    # 30 vouchers scanned once each, and one more voucher scanned by six at once
    assert report["requests"] == 30 + 6
    assert report["redeemed"] == 31 and report["double_redeemed"] == 0
    assert report["same_code_successes"] == 1
    assert report["statuses"] == {"201": 31, "400": 5}
    assert report["service_only_redeemed"] == 30
    per = float(report["service_only_scans_per_statement"])  # type: ignore[arg-type]
    assert per == 1.0 if connection.vendor == "sqlite" else 1.0 <= per <= 30
    for key in ("throughput_rps", "p99_ms", "baseline_rps", "service_only_rps"):
        assert float(report[key]) > 0, key  # type: ignore[arg-type]
    cpu = report["cpu_ms_per_request"]
    assert isinstance(cpu, dict) and set(cpu) == {"server", "database", "client"}
    assert cpu["server"] > 0 and cpu["client"] > 0
    # the floor: 30 scratch codes, each marked once, on a server of its own; its table is gone
    assert report["floor_marked"] == 30
    for key in ("floor_rps", "floor_p99_ms", "floor_vs_baseline"):
        assert float(report[key]) > 0, key  # type: ignore[arg-type]
    assert FLOOR_TABLE not in connection.introspection.table_names()
    assert report["cleaned_up"] is True


def test_the_floor_view_is_only_on_the_bench_server(client):
    """The platform's own URLs do not route the floor view; only the bench server's do."""
    from django.test import override_settings
    from django.urls import resolve

    assert client.post(FLOOR_PATH, {"code": "x"}).status_code == 404
    with override_settings(ROOT_URLCONF="gonghui.bench.server_urls"):
        assert resolve(FLOOR_PATH).func.__name__ == "floor"


@pytest.mark.django_db(transaction=True)
def test_bench_spike_small():
    report = run_bench("spike", "--members", "80", "--quota", "20")
    # every member's own connection got an answer: 20 winners, the rest sold out
    assert report["connections"] == 80 and report["answered"] == 80 and report["failed"] == 0
    assert report["statuses"] == {"200": 60, "201": 20}
    assert report["vouchers_issued"] == 20 and report["distinct_winners"] == 20
    assert report["oversold"] == 0 and report["remaining"] == 0
    # the campaign page, rendered by the production server with collected static files
    probe = report["page_probe"]
    assert isinstance(probe, dict) and probe["ok"] >= 1 and probe["failures"] == {}
    baseline = report["baseline"]
    assert isinstance(baseline, dict) and baseline["answered"] == 80
    assert baseline["statuses"] == {"200": 80}
    assert float(report["p99_ms"]) >= float(report["p50_ms"]) > 0  # type: ignore[arg-type]
    assert report["cleaned_up"] is True


def test_spike_raises_the_open_file_limit_it_needs():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft - 100, hard))
        assert raise_open_file_limit(soft) == soft
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft, hard)
        assert raise_open_file_limit(soft - 50) == soft  # never lowered
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.parametrize("bad", ["0", "-3", "x", "１e3", ""])
def test_bench_counts_are_checked(bad):
    with pytest.raises(CommandError, match="--vouchers"):
        call_command("bench", "redeem", "--vouchers", bad)


@pytest.mark.parametrize("flag", ["--members", "--quota", "--timeout"])
@pytest.mark.parametrize("bad", ["0", "-1", "１０万", "<x>", ""])
def test_spike_flags_are_checked(flag, bad):
    with pytest.raises(CommandError, match=flag):
        call_command("bench", "spike", flag, bad)
