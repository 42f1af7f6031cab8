"""The combiner with real threads: who runs what, in which batch, and what each caller gets back.

A batch is held open on an event so that the others queue up behind it deterministically.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from gonghui.core.combining import BatchFailed, Combiner


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


class Held:
    """A ``run_batch`` whose first call waits for ``release``; records every batch it ran."""

    def __init__(self, fail_on: Callable[[list[int]], BaseException | None] | None = None):
        self.release = threading.Event()
        self.started = threading.Event()
        self.batches: list[list[int]] = []
        self.threads: list[str] = []
        self.fail_on = fail_on
        self.lock = threading.Lock()

    def __call__(self, items: list[int]) -> list[int]:
        with self.lock:
            first = not self.batches
            self.batches.append(list(items))
            self.threads.append(threading.current_thread().name)
        if first:
            self.started.set()
            assert self.release.wait(10)
        error = self.fail_on(items) if self.fail_on else None
        if error is not None:
            raise error
        return [i * 10 for i in items]


def _crowd(combiner: Combiner[int, int], held: Held, items: list[int]) -> dict[int, Any]:
    """The first item leads and is held; the rest queue behind it; then the hold is released."""
    out: dict[int, Any] = {}

    def call(i: int) -> None:
        try:
            out[i] = combiner.submit(i)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertions
            out[i] = exc

    first = threading.Thread(target=call, args=(items[0],), name="t0")
    first.start()
    assert held.started.wait(10)
    rest = [threading.Thread(target=call, args=(i,), name=f"t{i}") for i in items[1:]]
    for t in rest:
        t.start()
    _wait_for(lambda: len(combiner._queue) == len(items) - 1)
    held.release.set()
    for t in [first, *rest]:
        t.join(10)
    return out


def test_a_lone_caller_runs_at_once_as_a_batch_of_one():
    combiner: Combiner[int, int] = Combiner(lambda items: [i + 1 for i in items])
    assert combiner.submit(41) == 42
    assert combiner.submit(1) == 2
    assert (combiner.stats.batches, combiner.stats.items, combiner.stats.sizes) == (2, 2, {1: 2})


def test_callers_waiting_behind_a_running_batch_go_together_and_each_gets_its_own_result():
    held = Held()
    combiner: Combiner[int, int] = Combiner(held)
    out = _crowd(combiner, held, list(range(1, 11)))
    assert out == {i: i * 10 for i in range(1, 11)}
    assert held.batches[0] == [1]
    assert sorted(held.batches[1]) == list(range(2, 11)) and len(held.batches) == 2
    assert combiner.stats.sizes == {1: 1, 9: 1} and combiner.stats.largest == 9
    # The batch ran in one of its own callers' threads, not in a helper thread.
    assert held.threads[1] in {f"t{i}" for i in range(2, 11)}


def test_batches_are_at_most_max_batch_and_everyone_is_served():
    held = Held()
    combiner: Combiner[int, int] = Combiner(held, max_batch=3)
    out = _crowd(combiner, held, list(range(1, 9)))
    assert out == {i: i * 10 for i in range(1, 9)}
    assert all(len(b) <= 3 for b in held.batches)
    assert sorted(i for b in held.batches for i in b) == list(range(1, 9))  # each exactly once


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_runs():
    held = Held(fail_on=lambda items: ValueError("boom") if 5 in items else None)
    combiner: Combiner[int, int] = Combiner(held)
    out = _crowd(combiner, held, [1, 2, 5, 7])
    assert out[1] == 10
    for i in (2, 5, 7):
        assert isinstance(out[i], BatchFailed) and out[i].size == 3
        assert isinstance(out[i].__cause__, ValueError)
    assert combiner.submit(3) == 30  # nothing stuck
    assert combiner._running == 0 and combiner._queue == []


def test_a_run_batch_with_the_wrong_number_of_results_fails_the_batch():
    combiner: Combiner[int, int] = Combiner(lambda items: [])
    with pytest.raises(BatchFailed) as failed:
        combiner.submit(1)
    assert failed.value.size == 1 and isinstance(failed.value.__cause__, RuntimeError)


class Stop(BaseException):
    pass


def test_a_leader_being_stopped_fails_its_batch_and_lets_the_others_go_on():
    held = Held(fail_on=lambda items: Stop() if items == [1] else None)
    combiner: Combiner[int, int] = Combiner(held)
    out = _crowd(combiner, held, [1, 2, 3])
    assert isinstance(out[1], Stop)  # the stop goes on up in the leader's own thread
    assert out[2] == 20 and out[3] == 30
    assert combiner._running == 0 and combiner._queue == []


def test_max_running_lets_that_many_batches_run_at_once():
    both = threading.Barrier(2, timeout=10)

    def run_batch(items: list[int]) -> list[int]:
        both.wait()  # would time out if the second batch could not start while the first runs
        return items

    combiner: Combiner[int, int] = Combiner(run_batch, max_running=2)
    out: list[int] = []
    threads = [threading.Thread(target=lambda i=i: out.append(combiner.submit(i))) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(out) == [1, 2] and combiner.stats.sizes == {1: 2}


@pytest.mark.parametrize("options", [{"max_batch": 0}, {"max_running": 0}])
def test_limits_below_one_are_refused(options):
    with pytest.raises(ValueError):
        Combiner(lambda items: items, **options)
