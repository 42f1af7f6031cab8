"""``gonghui bench import`` runs at small N and prints JSON with the expected keys."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from gonghui.bench import synthetic
from gonghui.core.idnumbers import validate_id_number
from gonghui.members.models import Member
from gonghui.orgs.models import Org


def test_synthetic_ids_are_valid_and_unique():
    numbers = [synthetic.id_number(n) for n in range(0, 200_000, 997)]
    assert len(set(numbers)) == len(numbers)
    for number in numbers[:50]:
        validate_id_number(number)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("serial", [True, False])
def test_bench_import_prints_json_and_cleans_up(serial):
    orgs_before = Org.objects.count()
    out = io.StringIO()
    args = ["bench", "import", "--rows", "300"] + (["--serial"] if serial else [])
    call_command(*args, stdout=out)
    report = json.loads(out.getvalue())
    for key in ("rows", "seconds", "rows_per_s", "peak_rss_mb", "timings_s", "database"):
        assert key in report
    assert report["rows"] == 300 and report["created"] == 300 and report["failed"] == 0
    assert report["rows_per_s"] > 0 and report["peak_rss_mb"] > 0
    assert report["cpu_count"] >= 1
    for key in ("load_avg_before", "load_avg_after"):
        assert len(report[key]) == 3 and all(x >= 0 for x in report[key])
    copy_keys = (
        "copy_rows_per_s",
        "ratio_vs_copy",
        "copy_unindexed_rows_per_s",
        "ratio_vs_copy_unindexed",
    )
    if connection.vendor == "postgresql":
        assert report["copy_rows"] == 300
        for key in copy_keys:
            assert report[key] > 0
        assert report["ratio_vs_copy"] == pytest.approx(
            report["rows_per_s"] / report["copy_rows_per_s"], abs=0.002
        )
    else:
        for key in copy_keys:
            assert key not in report
    assert Org.objects.count() == orgs_before
    assert Member.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_bench_keep_leaves_the_members():
    out = io.StringIO()
    call_command("bench", "import", "--rows", "20", "--keep", "--serial", stdout=out)
    report = json.loads(out.getvalue())
    assert Member.objects.filter(org_id=report["org_id"]).count() == 20


@pytest.mark.parametrize(
    "args",
    [
        ["import", "--rows", "0"],
        ["import", "--rows", "-5"],
        ["import", "--rows", "abc"],
        ["import", "--rows", "1e9"],
        ["grab", "--concurrency", "0"],
        ["redeem", "--vouchers", "<script>"],
    ],
)
def test_bench_refuses_counts_that_are_not_positive_whole_numbers(args):
    from django.core.management import CommandError, call_command

    with pytest.raises((CommandError, SystemExit)):
        call_command("bench", *args)


def test_positive_int_accepts_full_width_digits():
    from gonghui.bench import positive_int

    assert positive_int("１０００") == 1000
