"""Member import: rows/s and peak memory for an xlsx import, against a plain COPY on PostgreSQL.

``gonghui bench import --rows N [--keep]`` writes an xlsx of N synthetic valid rows, imports it
into a fresh base union in the configured database (in a child process, so its peak RSS is its
own), and prints JSON. On PostgreSQL it then COPYs the very rows the import wrote to members_member
(same columns, same values) into a temporary table defined like members_member, once with all its
indexes and constraints (``copy_rows_per_s``, ``ratio_vs_copy``) and once bare
(``copy_unindexed_rows_per_s``, ``ratio_vs_copy_unindexed``), in the same run, so the ratio
compares like with like on this machine. The load average is printed alongside.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from django.db import connection, connections, transaction

from gonghui.bench import positive_int, synthetic

COPY_BLOCK = 1024 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rows", type=positive_int, default=10_000, help="number of rows to import"
    )
    parser.add_argument("--keep", action="store_true", help="keep the org and members it made")
    parser.add_argument(
        "--serial", action="store_true", help="validate in the importing process (no worker)"
    )
    parser.add_argument("--file", type=Path, help="reuse (or keep) the generated xlsx here")


def _fresh_org() -> Any:
    from gonghui.orgs.models import OrgKind
    from gonghui.orgs.services import org_create

    tag = uuid.uuid4().hex[:8]
    root = org_create(
        actor=None, parent=None, kind=OrgKind.CITY_FEDERATION, name=f"压测{tag}总工会"
    )
    return org_create(actor=None, parent=root, kind=OrgKind.BASE_UNION, name=f"压测{tag}工会委员会")


def _child(conn: Any, org_id: int, path: str, parallel: bool) -> None:
    from gonghui.members.importing.service import import_file
    from gonghui.orgs.models import Org

    try:
        org = Org.objects.get(pk=org_id)
        result = import_file(
            actor=None,
            org=org,
            path=Path(path),
            file_name=Path(path).name,
            skip_bad_rows=False,
            parallel=parallel,
        )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send(
            {
                "rows": result.rows_total,
                "created": result.rows_created,
                "updated": result.rows_updated,
                "failed": result.rows_failed,
                "committed": result.committed,
                "seconds": result.seconds,
                "timings": result.timings,
                "importer_rss_kb": own,
                "worker_rss_kb": result.worker_maxrss_kb,
                "first_errors": [f"{e.row} {e.column}: {e.message}" for e in result.errors[:5]],
            }
        )
    except BaseException as exc:  # report, do not hang the parent
        conn.send({"crash": repr(exc)})
    finally:
        connections.close_all()
        conn.close()


def _import_in_child(org_id: int, path: Path, parallel: bool) -> dict[str, Any]:
    connections.close_all()  # the child opens its own connection; never share a socket
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, org_id, str(path), parallel))
    process.start()
    sender.close()
    try:
        outcome: dict[str, Any] = receiver.recv()
    except EOFError:
        outcome = {"crash": "the import process died"}
    process.join()
    if "crash" in outcome:
        raise RuntimeError(outcome["crash"])
    return outcome


def _dump_member_rows(org_id: int, target: Path) -> int:
    """The rows the import wrote to members_member, as COPY text (what a bulk load would send)."""
    from gonghui.members.importing.writing import MEMBER_COLUMNS

    names = ", ".join(MEMBER_COLUMNS)
    with connection.cursor() as cur, target.open("wb") as out:
        raw = cur.cursor
        with raw.copy(
            f"COPY (SELECT {names} FROM members_member WHERE org_id = {int(org_id)} ORDER BY id) "
            "TO STDOUT"
        ) as copy:
            for data in copy:
                out.write(data)
        cur.execute("SELECT count(*) FROM members_member WHERE org_id = %s", [org_id])
        return int(cur.fetchone()[0])


def _copy_baseline(dump: Path, count: int, *, indexed: bool) -> float:
    """Rows/s of a plain COPY of the same member rows into a copy of members_member.

    ``indexed``: ``LIKE members_member INCLUDING ALL`` (the same indexes, unique and check
    constraints the import's rows land in); otherwise the bare columns, no index. Only the COPY is
    timed (reading the dump back from the page cache is part of it, and negligible).
    """
    from gonghui.members.importing.writing import MEMBER_COLUMNS

    table = f"gh_bench_copy_{uuid.uuid4().hex[:8]}"
    names = ", ".join(MEMBER_COLUMNS)
    like = "LIKE members_member INCLUDING ALL" if indexed else "LIKE members_member"
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"CREATE TEMPORARY TABLE {table} ({like}) ON COMMIT DROP")
        raw = cur.cursor
        with dump.open("rb") as source:
            start = time.perf_counter()
            with raw.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                while block := source.read(COPY_BLOCK):
                    copy.write(block)
            spent = time.perf_counter() - start
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone()[0] == count
    return count / spent if spent else 0.0


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cleanup(org: Any) -> None:
    from gonghui.members.models import ImportJob, Member, MemberCard, Membership
    from gonghui.orgs.models import Org

    root_id = org.parent_id
    with transaction.atomic():
        MemberCard.objects.filter(member__org=org).delete()
        Membership.objects.filter(org=org)._raw_delete(connection.alias)  # type: ignore[attr-defined]
        Member.objects.filter(org=org)._raw_delete(connection.alias)  # type: ignore[attr-defined]
        ImportJob.objects.filter(org=org).delete()
        Org.objects.filter(pk=org.pk).delete()
        Org.objects.filter(pk=root_id).delete()
    # The audit lines of the bench stay: the audit log is append-only.


def run(options: dict[str, Any]) -> str:
    count = int(options["rows"])
    if count < 1:
        raise ValueError("--rows must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        path = options.get("file") or Path(tmp) / f"bench-{count}.xlsx"
        if not path.exists():
            synthetic.write_xlsx(path, count)
        org = _fresh_org()
        parallel = not options.get("serial")
        load_before = _load()
        outcome = _import_in_child(org.pk, path, parallel)
        load_after = _load()
        rate = outcome["rows"] / outcome["seconds"] if outcome["seconds"] else 0.0
        report: dict[str, Any] = {
            "bench": "import",
            "database": connection.vendor,
            "rows": outcome["rows"],
            "created": outcome["created"],
            "failed": outcome["failed"],
            "committed": outcome["committed"],
            "seconds": round(outcome["seconds"], 3),
            "rows_per_s": round(rate, 1),
            "peak_rss_mb": round((outcome["importer_rss_kb"] + outcome["worker_rss_kb"]) / 1024, 1),
            "importer_rss_mb": round(outcome["importer_rss_kb"] / 1024, 1),
            "worker_rss_mb": round(outcome["worker_rss_kb"] / 1024, 1),
            "parallel": parallel,
            "file_mb": round(path.stat().st_size / 1024 / 1024, 1),
            "cpu_count": os.cpu_count(),
            # 1-, 5- and 15-minute load averages before and after the import (other work on
            # the machine skews every figure here).
            "load_avg_before": load_before,
            "load_avg_after": load_after,
            "timings_s": outcome["timings"],
        }
        if outcome["first_errors"]:
            report["first_errors"] = outcome["first_errors"]
        if connection.vendor == "postgresql":
            dump = Path(tmp) / "members.copy"
            copied = _dump_member_rows(org.pk, dump)
            if copied:
                indexed = _copy_baseline(dump, copied, indexed=True)
                bare = _copy_baseline(dump, copied, indexed=False)
                report["copy_rows"] = copied
                report["copy_rows_per_s"] = round(indexed, 1)
                report["ratio_vs_copy"] = round(rate / indexed, 3) if indexed else None
                report["copy_unindexed_rows_per_s"] = round(bare, 1)
                report["ratio_vs_copy_unindexed"] = round(rate / bare, 3) if bare else None
                report["load_avg_after_copy"] = _load()
            dump.unlink(missing_ok=True)
        if not options.get("keep"):
            _cleanup(org)
        else:
            report["org_id"] = org.pk
    return json.dumps(report, ensure_ascii=False)
