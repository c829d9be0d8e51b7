"""The async face under load: processes of concurrent tasks, and an event loop
that keeps running while pooled sequences wait for the database."""
from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from mortar_rdb.sequence.asyncio import register_sequence
from mortar_rdb.sequence.generic import sequences
from tests.databases import BACKENDS, async_url, configured, empty_database
from tests.implementations import IMPLEMENTATIONS, POOLED, Implementation
from tests.workers import race, taken, taken_metadata

PROCESSES, TASKS, TRANSACTIONS = 4, 100, 3


def applicable(where: Any = lambda implementation: True) -> list[Any]:
    return [
        pytest.param(database, implementation, id=f'{database}-{implementation.id}')
        for database in configured()
        for implementation in IMPLEMENTATIONS
        if BACKENDS[database] in implementation.databases and where(implementation)
    ]


@pytest.fixture
def url(database: str, implementation: Implementation, tmp_path: Any) -> str:
    url = empty_database(database, str(tmp_path))
    engine = create_engine(url)
    try:
        implementation.prepare(engine)
        taken_metadata.create_all(engine)
    finally:
        engine.dispose()
    return url


def committed(url: str) -> list[int]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(taken.c.value).order_by(taken.c.value)))
    finally:
        engine.dispose()


@pytest.mark.parametrize('database, implementation', applicable())
def test_processes_of_concurrent_tasks_with_rollbacks_never_commit_a_value_twice(url, implementation):
    workers = race(url, [implementation.id] * PROCESSES, 'seq', TRANSACTIONS, rollback_share=0.2, tasks=TASKS)
    values = committed(url)
    reported = [value for worker in workers for value in worker.taken()]
    handed_out = [value for worker in workers for value in worker.handed_out()]
    k = len(values)
    assert 0 < k < PROCESSES * TASKS * TRANSACTIONS  # some rolled back
    assert len(handed_out) == PROCESSES * TASKS * TRANSACTIONS
    assert sorted(reported) == values
    if implementation.gapless:
        assert values == list(range(1, k + 1))
    else:
        assert not [value for value, times in Counter(handed_out).items() if times > 1]


@pytest.mark.parametrize('database, implementation', applicable(lambda implementation: implementation is POOLED))
def test_the_event_loop_runs_on_while_pooled_sequences_wait_for_the_database(url, implementation):
    """Another connection holds the sequence's row (a slow database, as far
    as the reservation can tell) for HOLD seconds at a time while 100 tasks
    take values of a sequence that reserves for every value; a ticker
    measures how late the loop wakes it."""
    hold, tick = 0.3, 0.005

    async def main() -> tuple[float, float, list[int]]:
        engine = create_async_engine(async_url(url))
        # The holder runs on its own engine: on SQLite it must not wait on
        # the reservations' pool.
        holder_engine = create_async_engine(async_url(url))
        try:
            async with AsyncSession(engine) as session, session.begin():
                sequence = await register_sequence('seq', session, impl=implementation.impl, block_size=1)
            lateness = [0.0]
            stop = asyncio.Event()

            async def ticker() -> None:
                while not stop.is_set():
                    before = time.perf_counter()
                    await asyncio.sleep(tick)
                    lateness.append(time.perf_counter() - before - tick)

            async def holder() -> float:
                held = 0.0
                for _ in range(3):
                    async with holder_engine.begin() as connection:
                        await connection.execute(update(sequences).values(current=sequences.c.current))
                        started = time.perf_counter()
                        await asyncio.sleep(hold)
                    held += time.perf_counter() - started
                    await asyncio.sleep(0.05)
                return held

            async def taker() -> list[int]:
                values = []
                while not stop.is_set():
                    values.append(await sequence.next())
                    await asyncio.sleep(0)
                return values

            ticking = asyncio.create_task(ticker())
            takers = [asyncio.create_task(taker()) for _ in range(100)]
            await asyncio.sleep(0.05)
            held = await holder()
            stop.set()
            taken_by_task = await asyncio.gather(*takers)
            await ticking
            return held, max(lateness), [value for values in taken_by_task for value in values]
        finally:
            await holder_engine.dispose()
            await engine.dispose()

    held, worst, values = asyncio.run(main())
    assert held >= 3 * 0.3  # the reservations really waited
    assert len(set(values)) == len(values) > 0
    # The loop is never blocked for anything like a reservation's wait.
    assert worst < 0.1, f'the event loop was blocked for {worst:.3f}s'


@pytest.mark.parametrize('database, implementation', applicable(lambda implementation: implementation is POOLED))
def test_tasks_cancelled_while_reserving_leave_the_sequence_working_and_never_repeat(url, implementation):
    """Request timeouts cancel tasks at any await, reservations included."""

    async def main() -> list[int]:
        engine = create_async_engine(async_url(url))
        try:
            async with AsyncSession(engine) as session, session.begin():
                sequence = await register_sequence('seq', session, impl=implementation.impl, block_size=2)
            values: list[int] = []

            async def taker() -> None:
                while True:
                    values.append(await sequence.next())

            for round_ in range(40):
                takers = [asyncio.create_task(taker()) for _ in range(20)]
                await asyncio.sleep(0.001 * (round_ % 8))
                for task in takers:
                    task.cancel()
                await asyncio.gather(*takers, return_exceptions=True)
            values.extend([await sequence.next() for _ in range(5)])
            return values
        finally:
            await engine.dispose()

    values = asyncio.run(main())
    assert len(set(values)) == len(values)
    assert values[-5:] == sorted(values[-5:])


@pytest.mark.parametrize('database, implementation', applicable(lambda implementation: implementation is POOLED))
def test_a_reservation_whose_caller_is_cancelled_runs_to_the_end_and_keeps_its_block(url, implementation):
    """The caller gives up while its reservation waits for a row another
    connection holds; the reservation completes once the row is free, leaves
    no lock behind, and its block serves the next callers."""

    async def main() -> list[int]:
        engine = create_async_engine(async_url(url))
        holder_engine = create_async_engine(async_url(url))
        try:
            async with AsyncSession(engine) as session, session.begin():
                sequence = await register_sequence('seq', session, impl=implementation.impl, block_size=3)
            async with holder_engine.connect() as holder:
                await holder.begin()
                await holder.execute(update(sequences).values(current=sequences.c.current))
                waiting = asyncio.create_task(sequence.next())
                await asyncio.sleep(0.2)
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                await holder.commit()
            values = [await asyncio.wait_for(sequence.next(), 5) for _ in range(3)]
            async with holder_engine.begin() as other:  # nothing holds the row any more
                await asyncio.wait_for(other.execute(update(sequences).values(current=sequences.c.current)), 5)
            return values
        finally:
            await holder_engine.dispose()
            await engine.dispose()

    assert asyncio.run(main()) == [2, 3, 4]
