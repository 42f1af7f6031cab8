"""The member import services: create a job, run it (in a task), or import a file directly."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from gonghui.accounts.roles import Capability
from gonghui.accounts.scoping import can_see_org
from gonghui.audit.models import AuditAction
from gonghui.audit.services import audit_record
from gonghui.core.errors import ApplicationError, PermissionDenied
from gonghui.members.importing.pipeline import (
    Batch,
    WorkerStats,
    batches,
    batches_in_worker,
    use_worker,
)
from gonghui.members.importing.reading import check_file, open_rows
from gonghui.members.importing.report import ErrorReport
from gonghui.members.importing.validation import CardBins, RowError
from gonghui.members.importing.writing import BatchWriter
from gonghui.members.models import ImportJob, ImportStatus
from gonghui.orgs.models import Org, OrgStatus

logger = logging.getLogger(__name__)

BATCH_SIZE = 20_000
PROGRESS_EVERY = 5_000


class _RollBack(Exception):
    """Raised inside the import transaction to undo everything (all-or-nothing mode)."""


@dataclass
class ImportResult:
    rows_total: int = 0
    rows_created: int = 0
    rows_updated: int = 0
    rows_rejoined: int = 0  # people who had left, back as members of this union
    rows_failed: int = 0
    committed: bool = False
    errors: list[RowError] = field(default_factory=list)  # the first ones only
    error_file: Path | None = None
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    worker_maxrss_kb: int = 0


def check_import_target(*, actor: Any, org: Org) -> None:
    if actor is not None:
        if not getattr(actor, "can", lambda _c: False)(Capability.IMPORT_MEMBERS):
            raise PermissionDenied()
        if not can_see_org(actor, org):
            raise PermissionDenied()
    if not org.holds_members:
        raise ApplicationError(
            _("Members are imported into a base union or joint base union, not into a %(kind)s.")
            % {"kind": org.get_kind_display()},
            code="org_not_base",
            field="org",
        )
    if org.status != OrgStatus.ACTIVE:
        raise ApplicationError(_("This union is dissolved."), code="org_dissolved", field="org")


def import_file(
    *,
    actor: Any,
    org: Org,
    path: Path,
    file_name: str,
    skip_bad_rows: bool = False,
    job: ImportJob | None = None,
    language: str | None = None,
    progress: Any = None,
    parallel: bool | None = None,
) -> ImportResult:
    """Import one file into ``org``. All-or-nothing unless ``skip_bad_rows``.

    Raises ApplicationError for a file that cannot be read at all (type, size, header); bad rows
    are reported in the result and its error file.
    """
    check_import_target(actor=actor, org=org)
    language = language or translation.get_language() or settings.LANGUAGE_CODE
    started = time.perf_counter()
    result = ImportResult()
    report = ErrorReport()
    with translation.override(language):
        check_file(path, file_name)
        bins = CardBins.load()
        stats = WorkerStats()
        if parallel is None:
            parallel = use_worker(path)
        source: Iterator[Batch] = (
            batches_in_worker(
                path, file_name, bins=bins, batch_size=BATCH_SIZE, language=language, stats=stats
            )
            if parallel
            else batches(path, file_name, bins=bins, batch_size=BATCH_SIZE, language=language)
        )
        writer = BatchWriter(
            org_id=org.pk, actor=actor, job_id=job.pk if job else None, file_name=file_name
        )
        try:
            with transaction.atomic():
                writer.create()
                writing = True
                last_progress = 0
                for batch in source:
                    result.rows_total = batch.rows_read
                    report.add(batch.errors)
                    if batch.errors and not skip_bad_rows:
                        writing = False
                    if batch.rows:
                        refused = writer.stage(batch.rows)
                        report.add(refused)
                        if refused and not skip_bad_rows:
                            writing = False
                        if writing:
                            writer.apply()
                    if progress and result.rows_total - last_progress >= PROGRESS_EVERY:
                        last_progress = result.rows_total
                        progress(result.rows_total, writer.created, writer.updated, report.count)
                writer.drop()
                result.rows_failed = report.count
                if result.rows_total == 0:
                    raise ApplicationError(
                        _("The file has a header row but no data rows."), code="file_no_rows"
                    )
                if report.count and not skip_bad_rows:
                    raise _RollBack()
                result.rows_created, result.rows_updated = writer.created, writer.updated
                result.rows_rejoined = writer.rejoined
                audit_start = time.perf_counter()
                audit_record(
                    actor=actor,
                    action=AuditAction.IMPORT,
                    obj=job,
                    object_type="" if job else "members.importjob",
                    org=org,
                    changes={**_counts(result, file_name, job), "committed": True},
                    reason=writer.reason,
                )
                writer.timings["audit_import_event"] = time.perf_counter() - audit_start
                result.committed = True
        except _RollBack:
            result.rows_created = result.rows_updated = result.rows_rejoined = 0
        finally:
            if not result.committed and connection.vendor == "sqlite":
                # SQLite keeps a temporary table created inside a rolled-back savepoint.
                writer.drop()
        result.worker_maxrss_kb = stats.maxrss_kb
        if not result.committed:
            audit_record(
                actor=actor,
                action=AuditAction.IMPORT,
                obj=job,
                object_type="" if job else "members.importjob",
                org=org,
                changes=_counts(result, file_name, job),
                reason=_("Import refused: the file has bad rows; nothing was imported."),
            )
        result.errors = report.first
        result.error_file = report.save()
    result.timings = {k: round(v, 3) for k, v in writer.timings.items()}
    result.seconds = time.perf_counter() - started
    return result


def _counts(result: ImportResult, file_name: str, job: ImportJob | None) -> dict[str, Any]:
    return {
        "file": file_name[:200],
        "job": job.pk if job else None,
        "rows": result.rows_total,
        "created": result.rows_created,
        "updated": result.rows_updated,
        "rejoined": result.rows_rejoined,
        "failed": result.rows_failed,
        "committed": result.committed,
    }


# --- jobs ----------------------------------------------------------------------------------------


def member_import_create(
    *, actor: Any, org: Org, upload: UploadedFile, skip_bad_rows: bool, language: str = ""
) -> ImportJob:
    """Check the target and the file, store it as a job, and queue the background import."""
    check_import_target(actor=actor, org=org)
    name = os.path.basename(upload.name or "upload")[:200]
    if upload.size is not None and upload.size > settings.GONGHUI_IMPORT_MAX_BYTES:
        raise ApplicationError(
            _("The file is %(size)d MB; the largest file accepted is %(limit)d MB. Split it.")
            % {
                "size": upload.size // (1024 * 1024),
                "limit": settings.GONGHUI_IMPORT_MAX_BYTES // (1024 * 1024),
            },
            code="file_too_big",
            field="file",
        )
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / ("probe" + Path(name).suffix.lower())
        with probe.open("wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        # Refuse a file without the header or without data now, not minutes later in the job.
        with open_rows(probe, name) as rows:
            if next(rows, None) is None:
                raise ApplicationError(
                    _("The file has a header row but no data rows."), code="file_no_rows"
                )
    upload.seek(0)
    with transaction.atomic():
        job = ImportJob.objects.create(
            org=org,
            created_by=actor if getattr(actor, "username", None) else None,
            original_name=name,
            skip_bad_rows=skip_bad_rows,
        )
        job.file.save(f"job-{job.pk}{Path(name).suffix.lower()}", File(upload), save=True)
    from gonghui.members.tasks import member_import_task

    member_import_task.enqueue(job_id=job.pk, language=language or translation.get_language() or "")
    return job


def progress_path(job_id: int) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / "progress" / f"{job_id}.txt"


def _write_progress(job_id: int, rows: int, created: int, updated: int, failed: int) -> None:
    # A file, not the job row: the import holds its transaction open (all-or-nothing), and on
    # SQLite a second writer would wait for it.
    target = progress_path(job_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(f"{rows} {created} {updated} {failed}")
    tmp.replace(target)


def import_progress(job: ImportJob) -> dict[str, int]:
    """Live counters of a running job (the job row is only updated when it finishes)."""
    try:
        rows, created, updated, failed = (int(x) for x in progress_path(job.pk).read_text().split())
    except (OSError, ValueError):
        return {"rows": job.rows_total, "created": 0, "updated": 0, "failed": job.rows_failed}
    return {"rows": rows, "created": created, "updated": updated, "failed": failed}


def member_import_run(*, job_id: int, language: str = "") -> ImportJob:
    """The background task's body: run the stored file of a queued job and record the outcome."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING
    )
    job = ImportJob.objects.select_related("org", "created_by").get(pk=job_id)
    if not claimed:
        return job
    actor = job.created_by
    language = language or settings.LANGUAGE_CODE
    local: Path | None = None
    try:
        with translation.override(language):
            try:
                path = Path(job.file.path)
            except NotImplementedError:
                with (
                    tempfile.NamedTemporaryFile(
                        suffix=Path(job.original_name).suffix, delete=False
                    ) as out,
                    job.file.open("rb") as src,
                ):
                    shutil.copyfileobj(src, out)
                local = path = Path(out.name)
            result = import_file(
                actor=actor if actor is not None else None,
                org=job.org,
                path=path,
                file_name=job.original_name,
                skip_bad_rows=job.skip_bad_rows,
                job=job,
                language=language,
                progress=lambda *counts: _write_progress(job.pk, *counts),
            )
            job.rows_total = result.rows_total
            job.rows_created = result.rows_created
            job.rows_updated = result.rows_updated
            job.rows_rejoined = result.rows_rejoined
            job.rows_failed = result.rows_failed
            if result.committed:
                job.status = ImportStatus.PARTIAL if result.rows_failed else ImportStatus.SUCCEEDED
                job.message = _(
                    "%(created)d created, %(updated)d updated, %(rejoined)d rejoined, "
                    "%(failed)d bad rows."
                ) % {
                    "created": result.rows_created,
                    "updated": result.rows_updated,
                    "rejoined": result.rows_rejoined,
                    "failed": result.rows_failed,
                }
            else:
                job.status = ImportStatus.FAILED
                job.message = _(
                    "%(failed)d bad rows; nothing was imported. Correct them, or import again "
                    "with “skip bad rows”."
                ) % {"failed": result.rows_failed}
            if result.error_file is not None:
                with result.error_file.open("rb") as fh:
                    job.error_file.save(f"errors-{job.pk}.xlsx", File(fh), save=False)
                result.error_file.unlink(missing_ok=True)
    except ApplicationError as exc:
        job.status = ImportStatus.FAILED
        job.message = str(exc.message)[:300]
    except Exception:
        logger.exception("member import job %s failed", job_id)
        job.status = ImportStatus.FAILED
        with translation.override(language):
            job.message = _("The import stopped on an unexpected error; nothing was imported.")
    finally:
        if local is not None:
            local.unlink(missing_ok=True)
        progress_path(job_id).unlink(missing_ok=True)
    job.finished_at = timezone.now()
    job.save()
    return job
