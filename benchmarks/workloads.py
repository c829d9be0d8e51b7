"""The four workloads. Each returns one figure and raises if a check fails.

- W1: ``calls`` ``next()`` inside one transaction: microseconds per call.
- W2: each ``next()`` in its own transaction, one worker: values/s.
- W2c: ``threads`` x ``per_thread``, each value in its own transaction:
  values/s; values must be exactly 1..N for gapless implementations, unique
  for the others.
- W3: ``processes`` x ``per_process`` transactions, each storing its value
  in a table with a primary key, ``rollback_rate`` of them rolling back:
  committed transactions/s; no duplicate, and gapless where promised.
"""
from __future__ import annotations

import multiprocessing
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine
from timing import timed_in_threads

from implementations import BY_LABEL, Implementation, Shared, committed_values, reset


@dataclass(frozen=True)
class Sizes:
    w1_scale: float = 1.0
    w2_values: int = 1000
    threads: int = 20
    per_thread: int = 500
    processes: int = 4
    per_process: int = 500
    rollback_rate: float = 0.2


FULL = Sizes()
QUICK = Sizes(w1_scale=0.1, w2_values=200, per_thread=50, per_process=100)


BARRIER_TIMEOUT = 300


class CheckFailed(AssertionError):
    pass


def check_values(implementation: Implementation, values: list[int], what: str) -> None:
    repeated = [value for value, times in Counter(values).items() if times > 1]
    if repeated:
        raise CheckFailed(f'{implementation.label}: {what} repeated {repeated[:5]}')
    if implementation.gapless and sorted(values) != list(range(1, len(values) + 1)):
        raise CheckFailed(f'{implementation.label}: {what} are not exactly 1..{len(values)}')


def w1(engine: Engine, implementation: Implementation, sizes: Sizes) -> float:
    calls = max(100, int(implementation.w1_calls * sizes.w1_scale))
    reset(engine, implementation.label)
    worker = Shared(engine, implementation).worker()
    try:
        worker.begin()
        take = worker.taker()
        started = time.perf_counter()
        for _ in range(calls):
            take()
        elapsed = time.perf_counter() - started
        worker.commit()
    finally:
        worker.close()
    return elapsed / calls * 1e6


def w2(engine: Engine, implementation: Implementation, sizes: Sizes) -> float:
    reset(engine, implementation.label)
    worker = Shared(engine, implementation).worker()
    try:
        started = time.perf_counter()
        for _ in range(sizes.w2_values):
            worker.begin()
            worker.next()
            worker.commit()
        elapsed = time.perf_counter() - started
    finally:
        worker.close()
    return sizes.w2_values / elapsed


def w2c(engine: Engine, implementation: Implementation, sizes: Sizes) -> float:
    reset(engine, implementation.label)
    shared = Shared(engine, implementation)
    results: list[list[int]] = []

    def run(start: threading.Barrier) -> None:
        worker = shared.worker()
        mine: list[int] = []
        try:
            start.wait()
            for _ in range(sizes.per_thread):
                worker.begin()
                mine.append(worker.next())
                worker.commit()
        finally:
            worker.close()
            results.append(mine)

    elapsed = timed_in_threads(sizes.threads, run)
    values = [value for mine in results for value in mine]
    check_values(implementation, values, 'W2c values')
    return len(values) / elapsed


def _w3_process(url: str, pipe: Any, start: Any) -> None:
    """A W3 worker process: runs each job it is sent, after the common start."""
    engine = create_engine(url)
    while (job := pipe.recv()) is not None:
        try:
            pipe.send(_w3_job(engine, start, *job))
        except BaseException as error:
            start.abort()  # nobody waits for this process any more
            pipe.send(error)
    engine.dispose()


def _w3_job(engine: Engine, start: Any, label: str, count: int, rollback_rate: float, seed: int) -> Any:
    worker = Shared(engine, BY_LABEL[label]).worker()
    chance = random.Random(seed)
    committed = []
    try:
        start.wait(BARRIER_TIMEOUT)
        for _ in range(count):
            worker.begin()
            value = worker.next()
            worker.store(value)
            if chance.random() < rollback_rate:
                worker.rollback()
            else:
                worker.commit()
                committed.append(value)
        return time.monotonic(), committed
    finally:
        worker.close()


class ProcessTeam:
    """W3's worker processes, started once per database and reused by every run.

    They are started with 'spawn', so they share nothing with this process
    but the database.
    """

    def __init__(self, url: str, processes: int) -> None:
        context = multiprocessing.get_context('spawn')
        self.start = context.Barrier(processes + 1)
        self.pipes = []
        self.processes = []
        for _ in range(processes):
            mine, theirs = context.Pipe()
            process = context.Process(target=_w3_process, args=(url, theirs, self.start), daemon=True)
            process.start()
            self.pipes.append(mine)
            self.processes.append(process)

    def run(self, label: str, count: int, rollback_rate: float, seed: int) -> tuple[float, list[list[int]]]:
        for index, pipe in enumerate(self.pipes):
            pipe.send((label, count, rollback_rate, seed * 100 + index))
        try:
            self.start.wait(BARRIER_TIMEOUT)
        except threading.BrokenBarrierError:
            pass  # a worker failed: its reply says why
        started = time.monotonic()
        replies = [pipe.recv() for pipe in self.pipes]
        failures = [reply for reply in replies if isinstance(reply, BaseException)]
        if failures or self.start.broken:
            self.start.reset()
            raise CheckFailed(f'{label}: W3 worker failed: {failures[0] if failures else "barrier broken"!r}')
        return max(ended for ended, _ in replies) - started, [committed for _, committed in replies]

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(None)
        for process in self.processes:
            process.join(30)


def w3(engine: Engine, implementation: Implementation, sizes: Sizes, team: ProcessTeam, seed: int) -> float:
    reset(engine, implementation.label)
    elapsed, committed = team.run(implementation.label, sizes.per_process, sizes.rollback_rate, seed)
    values = [value for mine in committed for value in mine]
    check_values(implementation, values, 'W3 committed values')
    if sorted(values) != committed_values(engine):
        raise CheckFailed(f'{implementation.label}: the W3 table does not hold exactly the committed values')
    return len(values) / elapsed
