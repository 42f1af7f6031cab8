"""Background tasks of the members app (django-tasks; the database backend in production)."""

from __future__ import annotations

from django_tasks import task


@task()
def member_import_task(job_id: int, language: str = "") -> int:
    from gonghui.members.importing.service import member_import_run

    job = member_import_run(job_id=job_id, language=language)
    return job.pk
