"""A small pool of worker threads for the calls the supervisor performs and that may block.

Not ``concurrent.futures``: it imports ``logging`` and more, tens of milliseconds that the
first mediated call of a ``nono run`` would wait for, and the supervisor needs none of
its futures. Threads are started on demand, up to ``workers``, each running the
``initializer`` first (the pool threads that carry the sandbox's TCP rules restrict
themselves there); a work item is a function and its arguments, and what it raises is the
caller's business (the supervisor's items answer EPERM themselves). A pool whose
initializer fails takes no more work, and hands what was waiting to ``reject``.
"""

from __future__ import annotations

import _queue
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_STOP = None


class WorkerPool:
    """Run submitted functions on at most ``workers`` threads named ``name-N``."""

    def __init__(
        self,
        workers: int,
        name: str,
        initializer: Callable[..., None] | None = None,
        initargs: tuple[Any, ...] = (),
        reject: Callable[..., None] | None = None,
    ) -> None:
        self.workers, self.name = workers, name
        self.initializer, self.initargs = initializer, initargs
        #: Called with each waiting item's function and arguments when the pool breaks.
        self.reject = reject
        self._queue: _queue.SimpleQueue[tuple[Callable[..., Any], tuple[Any, ...]] | None] = (
            _queue.SimpleQueue()
        )
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._stopped = False

    def submit(self, function: Callable[..., Any], *arguments: Any) -> None:
        """Queue ``function(*arguments)``; start a thread if none is idle and there is room."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("the pool was shut down")
            self._queue.put((function, arguments))
            if self._idle == 0 and len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            elif self._idle:
                self._idle -= 1  # that worker takes this item

    def _work(self) -> None:
        if self.initializer is not None:
            try:
                self.initializer(*self.initargs)
            except BaseException:  # a worker that cannot be set up must not serve
                with self._lock:
                    self._threads.remove(threading.current_thread())
                    self._stopped = True
                for function, arguments in self._drain():
                    if self.reject is not None:
                        try:
                            self.reject(function, *arguments)
                        except BaseException:
                            pass
                return
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            function, arguments = item
            try:
                function(*arguments)
            except BaseException:  # the item answers for itself; a worker never dies of one
                pass
            with self._lock:
                if self._stopped:
                    continue
                self._idle += 1

    def _drain(self) -> list[tuple[Callable[..., Any], tuple[Any, ...]]]:
        """Take every queued item out (stop marks are dropped)."""
        taken: list[tuple[Callable[..., Any], tuple[Any, ...]]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except _queue.Empty:
                return taken
            if item is not _STOP:
                taken.append(item)

    def shutdown(self) -> None:
        """Stop taking work, drop what waits, let every worker end (without waiting for it)."""
        with self._lock:
            self._stopped = True
            threads = list(self._threads)
        self._drain()
        for _ in threads:
            self._queue.put(_STOP)
