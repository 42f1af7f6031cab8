"""Member import: streaming readers, row validation, set-based writing, jobs.

Modules: ``columns`` (the file format), ``reading`` (xlsx/CSV streams), ``validation`` (one row),
``pipeline`` (batches, optionally from a worker process), ``writing`` (conflict look-ups, then
COPY straight into the tables),
``report`` (error file and template), ``service`` (the services the views, task and commands call).
"""

from gonghui.members.importing.service import (
    ImportResult,
    import_file,
    import_progress,
    member_import_create,
    member_import_run,
)

__all__ = [
    "ImportResult",
    "import_file",
    "import_progress",
    "member_import_create",
    "member_import_run",
]
