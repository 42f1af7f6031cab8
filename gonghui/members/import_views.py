"""Staff pages for importing and exporting members (thin: parse, call one service/selector, render)."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable

from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from gonghui.accounts.decorators import staff_required
from gonghui.accounts.roles import Capability
from gonghui.core.errors import ApplicationError, NotFound, PermissionDenied
from gonghui.members.exporting import member_export
from gonghui.members.importing.preview import import_error_preview
from gonghui.members.importing.report import template_workbook
from gonghui.members.importing.selectors import (
    import_job_get,
    import_job_list,
    import_target_orgs,
)
from gonghui.members.importing.service import import_progress, member_import_create
from gonghui.members.models import ImportStatus, MemberStatus, WorkerCategory
from gonghui.members.selectors import MemberFilters
from gonghui.orgs.selectors import org_get

View = Callable[..., HttpResponseBase]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@staff_required(Capability.IMPORT_MEMBERS)
@require_http_methods(["GET", "POST"])
def import_upload(request: HttpRequest) -> HttpResponse:
    orgs = import_target_orgs(actor=request.user)
    error: ApplicationError | None = None
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ApplicationError(_("Choose a file to upload."), code="file_missing")
            try:
                org = orgs.get(pk=request.POST.get("org") or 0)
            except (orgs.model.DoesNotExist, ValueError):
                raise ApplicationError(
                    _("Choose the base union to import into."), code="org_missing", field="org"
                ) from None
            job = member_import_create(
                actor=request.user,
                org=org,
                upload=upload,
                skip_bad_rows=request.POST.get("skip_bad_rows") == "on",
                language=getattr(request, "LANGUAGE_CODE", ""),
            )
        except (NotFound, PermissionDenied):
            raise
        except ApplicationError as exc:
            error = exc
        else:
            return redirect("members:import_job", pk=job.pk)
    context = {
        "orgs": orgs,
        "jobs": import_job_list(actor=request.user)[:20],
        "error": error,
        "selected_org": request.POST.get("org", ""),
    }
    return render(request, "members/import_upload.html", context, status=400 if error else 200)


@staff_required(Capability.IMPORT_MEMBERS)
@require_GET
def import_template(request: HttpRequest) -> HttpResponseBase:
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by FileResponse)
    template_workbook(handle)  # type: ignore[arg-type]
    handle.seek(0)
    return FileResponse(handle, as_attachment=True, filename="会员导入模板.xlsx", content_type=XLSX)


@staff_required(Capability.IMPORT_MEMBERS)
@require_GET
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = import_job_get(actor=request.user, pk=pk)
    running = job.status in (ImportStatus.QUEUED, ImportStatus.RUNNING)
    context = {
        "job": job,
        "running": running,
        "progress": import_progress(job) if running else None,
        "error_lines": [] if running else import_error_preview(job=job),
    }
    htmx = getattr(request, "htmx", None)
    if htmx:
        return render(request, "members/import_job_status.html", context)
    return render(request, "members/import_job.html", context)


@staff_required(Capability.IMPORT_MEMBERS)
@require_GET
def import_job_errors(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = import_job_get(actor=request.user, pk=pk)
    if not job.error_file:
        raise NotFound()
    return FileResponse(
        job.error_file.open("rb"),
        as_attachment=True,
        filename=f"导入错误-{job.pk}.xlsx",
        content_type=XLSX,
    )


def _filters(request: HttpRequest) -> MemberFilters:
    """The member list's filters from the query string; a bad value is ignored, as on the list."""
    params = request.GET
    org = None
    if params.get("org"):
        try:
            org = org_get(actor=request.user, pk=params["org"])
        except NotFound:
            org = None
    category = params.get("category", "")
    status = params.get("status", "")
    year: int | None = None
    try:
        year = int(params.get("year", ""))
        if not 1900 <= year <= timezone.localdate().year:
            year = None
    except ValueError:
        year = None
    return MemberFilters(
        query=params.get("q", "")[:50],
        org=org,
        category=category if category in WorkerCategory.values else "",
        status=status if status in MemberStatus.values else "",
        join_year=year,
    )


@staff_required(Capability.EXPORT_MEMBERS)
@require_http_methods(["GET", "POST"])
def export(request: HttpRequest) -> HttpResponseBase:
    """GET: masked xlsx. POST with a reason: unmasked (needs REVEAL_SENSITIVE), audited."""
    filters = _filters(request)
    reason = request.POST.get("reason", "") if request.method == "POST" else None
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (closed by FileResponse)
    try:
        member_export(actor=request.user, filters=filters, out=handle, unmasked_reason=reason)
    except ApplicationError as exc:
        handle.close()
        if isinstance(exc, NotFound | PermissionDenied):
            raise
        return render(
            request,
            "members/import_export_unmasked.html",
            {
                "error": exc,
                "query": request.GET.urlencode(),
                "action": request.get_full_path(),
            },
            status=400,
        )
    handle.seek(0)
    stamp = dt.datetime.now(tz=dt.UTC).astimezone(timezone.get_current_timezone())
    suffix = "-unmasked" if reason is not None else ""
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"members-{stamp:%Y%m%d-%H%M}{suffix}.xlsx",
        content_type=XLSX,
    )


@staff_required(Capability.REVEAL_SENSITIVE)
@require_GET
def export_unmasked(request: HttpRequest) -> HttpResponse:
    """The form asking for the reason before an unmasked export."""
    query = request.GET.urlencode()
    return render(
        request,
        "members/import_export_unmasked.html",
        {"query": query, "action": reverse("members:export") + (f"?{query}" if query else "")},
    )
