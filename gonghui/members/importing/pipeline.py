"""Reading + validating + sealing as a stream of batches, in this process or in a worker process.

Parsing the sheet, validating and encrypting dominate an import's CPU time, while the database
does the writing in its own process. On a multi-core machine the batches are produced by a worker
process (forked, so it shares settings and keys) and sent through a pipe, so the main process is
free to drive COPY and the set-based SQL at the same time.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import resource
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import translation

from gonghui.core.errors import ApplicationError
from gonghui.members.importing.reading import open_rows
from gonghui.members.importing.validation import CardBins, RowError, RowValidator, StagedRow


@dataclass
class Batch:
    rows: list[StagedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    rows_read: int = 0  # data rows read so far, cumulative


def batches(
    path: Path, name: str, *, bins: CardBins, batch_size: int, language: str
) -> Iterator[Batch]:
    with translation.override(language), open_rows(path, name) as rows:
        validator = RowValidator(bins=bins)
        batch = Batch()
        count = 0
        for number, values in rows:
            count += 1
            staged, errors = validator.validate(number, values)
            if staged is not None:
                batch.rows.append(staged)
            batch.errors.extend(errors)
            if len(batch.rows) + len(batch.errors) >= batch_size:
                batch.rows_read = count
                yield batch
                batch = Batch()
        batch.rows_read = count
        yield batch


def _worker(conn: Any, path: str, name: str, bins: CardBins, batch_size: int, lang: str) -> None:
    try:
        for batch in batches(Path(path), name, bins=bins, batch_size=batch_size, language=lang):
            conn.send_bytes(pickle.dumps(("batch", batch), protocol=pickle.HIGHEST_PROTOCOL))
        usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        conn.send_bytes(pickle.dumps(("done", usage)))
    except ApplicationError as exc:
        conn.send_bytes(pickle.dumps(("error", (str(exc.message), exc.code, exc.field))))
    except BaseException:
        conn.send_bytes(pickle.dumps(("crash", traceback.format_exc())))
    finally:
        conn.close()


class WorkerStats:
    maxrss_kb: int = 0


def batches_in_worker(
    path: Path,
    name: str,
    *,
    bins: CardBins,
    batch_size: int,
    language: str,
    stats: WorkerStats | None = None,
) -> Iterator[Batch]:
    """The same stream as ``batches``, produced by a forked worker process."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_worker,
        args=(sender, str(path), name, bins, batch_size, language),
        daemon=True,
    )
    process.start()
    sender.close()
    try:
        while True:
            try:
                kind, payload = pickle.loads(receiver.recv_bytes())  # noqa: S301 (our own child)
            except EOFError:
                raise RuntimeError("the import worker process ended unexpectedly") from None
            if kind == "batch":
                yield payload
            elif kind == "done":
                if stats is not None:
                    stats.maxrss_kb = payload
                return
            elif kind == "error":
                message, code, field_name = payload
                raise ApplicationError(message, code=code, field=field_name)
            else:
                raise RuntimeError(f"import worker failed:\n{payload}")
    finally:
        receiver.close()
        process.join(timeout=5)
        if process.is_alive():
            process.kill()
            process.join()


def use_worker(path: Path) -> bool:
    """A worker pays off for big files on a machine with more than one core."""
    threshold = settings.GONGHUI_IMPORT_WORKER_MIN_BYTES
    return (os.cpu_count() or 1) > 1 and path.stat().st_size >= threshold
