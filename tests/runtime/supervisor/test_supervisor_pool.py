"""The supervisor's worker pool: threads on demand, at most N, initializer first, shutdown."""

from __future__ import annotations

import threading

import pytest

from nonoc.runtime.supervisor.pool import WorkerPool


def test_work_runs_on_at_most_the_given_number_of_threads() -> None:
    pool = WorkerPool(3, "test-pool")
    release = threading.Event()
    started = threading.Semaphore(0)
    names: set[str] = set()
    done = threading.Semaphore(0)

    def job() -> None:
        names.add(threading.current_thread().name)
        started.release()
        release.wait(5)
        done.release()

    for _ in range(6):
        pool.submit(job)
    for _ in range(3):
        assert started.acquire(timeout=5)
    assert not started.acquire(timeout=0.2)  # three blocked workers, the rest waits
    release.set()
    for _ in range(6):
        assert done.acquire(timeout=5)
    assert names <= {"test-pool-0", "test-pool-1", "test-pool-2"} and len(names) == 3
    pool.shutdown()


def test_an_idle_worker_is_reused_and_an_exception_does_not_kill_it() -> None:
    pool = WorkerPool(4, "test-pool")
    seen: list[str] = []
    done = threading.Semaphore(0)

    def job(fail: bool) -> None:
        seen.append(threading.current_thread().name)
        done.release()
        if fail:
            raise RuntimeError("the item answers for itself")

    for fail in (True, False, False):
        pool.submit(job, fail)
        assert done.acquire(timeout=5)
        threading.Event().wait(0.05)  # the worker is back waiting (idle) before the next
    assert seen == ["test-pool-0"] * 3
    pool.shutdown()
    with pytest.raises(RuntimeError):
        pool.submit(job, False)


def test_the_initializer_runs_first_and_a_failing_one_stops_the_pool() -> None:
    marks: list[str] = []
    done = threading.Semaphore(0)
    pool = WorkerPool(2, "test-pool", initializer=marks.append, initargs=("init",))
    pool.submit(lambda: (marks.append("job"), done.release()))
    assert done.acquire(timeout=5)
    assert marks == ["init", "job"]
    pool.shutdown()

    failed = threading.Event()

    def refuse() -> None:
        failed.set()
        raise OSError("cannot restrict this thread")

    rejected: list[str] = []
    broken = WorkerPool(
        2, "test-pool", initializer=refuse, reject=lambda f, tag: rejected.append(tag)
    )
    broken.submit(lambda tag: marks.append("never"), "first")
    assert failed.wait(5)
    for _ in range(50):
        try:
            broken.submit(lambda: marks.append("never"))
        except RuntimeError:
            break
        threading.Event().wait(0.01)
    else:
        raise AssertionError("a pool whose initializer failed kept taking work")
    assert "never" not in marks
    assert rejected == ["first"]  # the waiting call is answered, not left parked
