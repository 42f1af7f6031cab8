"""Flat combining: the threads of one server process that run the same short write at once share
one database statement.

Under a rush every scan of a voucher is a statement with the same fixed costs: a round trip, the
executor's start-up, a commit and its WAL flush, and the driver's work in Python. A ``Combiner``
lets the first caller run, in one call of ``run_batch``, the items of everyone who is waiting;
the others sleep until their result is in. There is no timer: a lone caller runs at once with a
batch of one, and batches form only while a statement is already running, so latency does not
grow when the load is light, and the batch grows with the load.

``run_batch`` gets the items in arrival order and returns one result per item, in that order. If
it raises, every caller of that batch gets a ``BatchFailed`` naming the batch's size, with the
error as its cause; what the batch wrote is the caller's concern (a single statement in
autocommit wrote nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class BatchFailed(Exception):
    """``run_batch`` raised for a batch of ``size`` items (the error is ``__cause__``)."""

    def __init__(self, size: int) -> None:
        super().__init__(f"a combined batch of {size} failed")
        self.size = size


@dataclass(eq=False)
class _Slot(Generic[T, R]):
    item: T
    queued: bool = True
    done: bool = False
    result: R | None = None
    error: BaseException | None = None
    size: int = 0


@dataclass
class Stats:
    batches: int = 0
    items: int = 0
    largest: int = 0
    sizes: dict[int, int] = field(default_factory=dict)


class Combiner(Generic[T, R]):
    def __init__(
        self,
        run_batch: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 32,
        max_running: int = 1,
    ):
        if max_batch < 1 or max_running < 1:
            raise ValueError("max_batch and max_running must be at least 1")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._max_running = max_running
        self._cond = threading.Condition()
        self._queue: list[_Slot[T, R]] = []
        self._running = 0
        self.stats = Stats()

    def submit(self, item: T) -> R:
        """Run ``item`` (in this thread's batch or another's) and return its result."""
        slot: _Slot[T, R] = _Slot(item)
        with self._cond:
            self._queue.append(slot)
            while not slot.done:
                if slot.queued and self._running < self._max_running:
                    self._running += 1
                    break
                self._cond.wait()
            else:
                return self._outcome(slot)
        # This thread leads: it runs the oldest waiting items, in batches, until its own has been
        # taken (the queue is served in order, so that is one batch unless more than
        # ``max_batch`` were waiting), then lets whoever waits next lead.
        try:
            while True:
                with self._cond:
                    if not slot.queued:
                        break
                    batch = self._queue[: self.max_batch]
                    del self._queue[: self.max_batch]
                    for s in batch:
                        s.queued = False
                self._run(batch)
        finally:
            with self._cond:
                if slot.queued:  # stopped before its turn: nobody would read the result
                    self._queue.remove(slot)
                    slot.queued = False
                self._running -= 1
                self._cond.notify_all()
        with self._cond:
            while not slot.done:  # taken by another leader's batch
                self._cond.wait()
        return self._outcome(slot)

    def _run(self, batch: list[_Slot[T, R]]) -> None:
        results: Sequence[R] = ()
        error: BaseException | None = None
        try:
            results = self._run_batch([s.item for s in batch])
            if len(results) != len(batch):
                raise RuntimeError("run_batch must return one result per item")
        except Exception as exc:  # handed to every caller of the batch, raised there
            error = exc
        except BaseException as exc:  # the leader is being stopped: fail the batch, stop
            self._finish(batch, (), exc)
            raise
        self._finish(batch, results, error)

    def _finish(
        self, batch: list[_Slot[T, R]], results: Sequence[R], error: BaseException | None
    ) -> None:
        with self._cond:
            stats = self.stats
            stats.batches += 1
            stats.items += len(batch)
            stats.largest = max(stats.largest, len(batch))
            stats.sizes[len(batch)] = stats.sizes.get(len(batch), 0) + 1
            for i, s in enumerate(batch):
                s.size = len(batch)
                if error is None:
                    s.result = results[i]
                else:
                    s.error = error
                s.done = True
            self._cond.notify_all()

    @staticmethod
    def _outcome(slot: _Slot[T, R]) -> R:
        if slot.error is not None:
            raise BatchFailed(slot.size) from slot.error
        return slot.result  # type: ignore[return-value]
