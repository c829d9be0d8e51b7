"""Timing work that several threads start together."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable


def timed_in_threads(count: int, work: Callable[[threading.Barrier], None]) -> float:
    """Seconds from the moment ``count`` threads running ``work`` are all ready until the last ends.

    ``work`` gets the start barrier: it does its own set-up, waits at the
    barrier, then does what is timed. The first error any thread raised is
    raised here, after all of them have ended.
    """
    start = threading.Barrier(count + 1)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work(start)
        except BaseException as error:  # raised again below, in the calling thread
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass  # a thread failed before the start: its error is raised below
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed
