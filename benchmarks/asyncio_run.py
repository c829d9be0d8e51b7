"""The async workloads: ``python benchmarks/asyncio_run.py [--db NAME ...] [--runs N] [--quick]``.

Measures :mod:`mortar_rdb.sequence.asyncio` through each database's async
driver (aiosqlite, asyncpg, aiomysql), on the same databases as ``run.py``
(SQLite on tmpfs; PostgreSQL and MariaDB from $MORTAR_RDB_TEST_POSTGRESQL and
$MORTAR_RDB_TEST_MARIADB, their drivers swapped for async ones):

- W1: ``await sequence.next(session)`` many times inside one ``AsyncSession``
  transaction, against the raw async driver running the same increment
  statement (the SQL the library compiles for that dialect) on one
  connection in one transaction: microseconds per call.
- W2c: 100 concurrent tasks, each taking values in transactions of their
  own (``async with session.begin()``): values per second; the values must
  be exactly 1..N for the generic implementation and unique for the others.

Runs alternate between the raw driver and the implementations; the table
gives the median, minimum and maximum of the runs. It writes rows named
``abench_*`` in the ``sequences`` table: use scratch databases.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import environment  # noqa: E402
from run import database_urls  # noqa: E402
from sqlalchemy import delete, insert, make_url  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine  # noqa: E402

from mortar_rdb.registry import isolated  # noqa: E402
from mortar_rdb.sequence import generic, native, pooled  # noqa: E402
from mortar_rdb.sequence._per_engine import per_engine  # noqa: E402
from mortar_rdb.sequence._table import INT64_MAX, sequences  # noqa: E402
from mortar_rdb.sequence.asyncio import AsyncSequence, drop_sequence, register_sequence  # noqa: E402

ASYNC_DRIVER = {'sqlite': 'aiosqlite', 'postgresql': 'asyncpg', 'mysql': 'aiomysql'}
RAW = 'raw driver'
IMPLEMENTATIONS: dict[str, tuple[Any, dict[str, Any]]] = {
    'generic': (generic.SequenceImplementation, {}),
    'pooled/100': (pooled.SequenceImplementation, {'block_size': 100}),
    'native': (native.SequenceImplementation, {}),
}


def async_url(url: str) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    return parsed.set(drivername=f'{backend}+{ASYNC_DRIVER[backend]}').render_as_string(hide_password=False)


# The raw drivers: one connection, one transaction, the library's statement --------


class RawConnection:
    """The async driver itself, running the increment statement the library compiles."""

    def __init__(self, engine: AsyncEngine, name: str) -> None:
        self.url = engine.url
        self.statement = per_engine(engine.sync_engine).table.increment_statement
        self.parameters = self.statement.parameters(name, 1, INT64_MAX - 1)
        self.backend = engine.dialect.name

    async def __aenter__(self) -> Callable[[], Awaitable[int]]:
        url, sql, parameters = self.url, self.statement.sql, self.parameters
        if self.backend == 'postgresql':
            import asyncpg

            self.connection = await asyncpg.connect(
                host=url.host, port=url.port, user=url.username, password=url.password, database=url.database
            )
            self.transaction = self.connection.transaction()
            await self.transaction.start()
            fetchval = self.connection.fetchval
            return lambda: fetchval(sql, *parameters)
        if self.backend == 'mysql':
            import aiomysql

            self.connection = await aiomysql.connect(
                host=url.host, port=url.port or 3306, user=url.username, password=url.password or '', db=url.database
            )
            await self.connection.begin()
            cursor = await self.connection.cursor()

            async def increment() -> int:
                await cursor.execute(sql, parameters)
                return int(cursor.lastrowid)

            return increment
        import aiosqlite

        self.connection = await aiosqlite.connect(url.database)
        await self.connection.execute('BEGIN')
        execute = self.connection.execute

        async def increment_sqlite() -> int:
            cursor = await execute(sql, parameters)
            row = await cursor.fetchone()
            return int(row[0])  # type: ignore[index]

        return increment_sqlite

    async def __aexit__(self, *exc_info: object) -> None:
        if self.backend == 'postgresql':
            await self.transaction.commit()
            await self.connection.close()
        elif self.backend == 'mysql':
            await self.connection.commit()
            self.connection.close()
        else:
            await self.connection.commit()
            await self.connection.close()


# The workloads ----------------------------------------------------------------


async def fresh(engine: AsyncEngine, label: str) -> AsyncSequence | None:
    """``label``'s sequence from 1 (None for the raw driver)."""
    name = 'abench_' + label.replace('/', '_')
    async with engine.begin() as connection:
        await connection.run_sync(sequences.create, checkfirst=True)
        await connection.execute(delete(sequences).where(sequences.c.name == name))
        if label == RAW:
            await connection.execute(insert(sequences).values(name=name, current=0))
    if label == RAW:
        return None
    impl, options = IMPLEMENTATIONS[label]
    async with AsyncSession(engine) as session:
        await drop_sequence(name, session, impl=impl)
        await session.commit()
    async with AsyncSession(engine) as session, session.begin():
        return await register_sequence(name, session, impl=impl, **options)


async def w1(engine: AsyncEngine, label: str, calls: int) -> float:
    sequence = await fresh(engine, label)
    if sequence is None:
        async with RawConnection(engine, 'abench_' + RAW.replace('/', '_')) as increment:
            started = time.perf_counter()
            for _ in range(calls):
                await increment()
            elapsed = time.perf_counter() - started
        return elapsed / calls * 1e6
    async with AsyncSession(engine) as session, session.begin():
        await sequence.next(session)  # the transaction and its cursor, as the raw driver's
        next_value = sequence.next
        started = time.perf_counter()
        for _ in range(calls):
            await next_value(session)
        elapsed = time.perf_counter() - started
    return elapsed / calls * 1e6


async def w2c(engine: AsyncEngine, label: str, tasks: int, per_task: int) -> float:
    sequence = await fresh(engine, label)
    assert sequence is not None

    async def task() -> list[int]:
        values = []
        for _ in range(per_task):
            async with AsyncSession(engine) as session, session.begin():
                values.append(await sequence.next(session))
        return values

    started = time.perf_counter()
    results = await asyncio.gather(*(task() for _ in range(tasks)))
    elapsed = time.perf_counter() - started
    values = [value for values in results for value in values]
    if [value for value, times in Counter(values).items() if times > 1]:
        raise AssertionError(f'{label}: a value was handed out twice')
    if label == 'generic' and sorted(values) != list(range(1, len(values) + 1)):
        raise AssertionError(f'{label}: the values are not exactly 1..{len(values)}')
    return len(values) / elapsed


async def measure(url: str, runs: int, quick: bool) -> None:
    engine = create_async_engine(async_url(url), pool_size=20, max_overflow=0)
    try:
        async with engine.connect() as connection:
            version = await connection.run_sync(lambda sync: environment.server(sync.engine))
        print(f'\n== {version}', flush=True)
        labels = [label for label in IMPLEMENTATIONS if label != 'native' or engine.dialect.supports_sequences]
        if engine.dialect.name == 'sqlite':
            labels = [label for label in labels if label != 'native']
        calls = 500 if quick else 5000
        tasks, per_task = 100, (5 if quick else 20)
        figures: dict[tuple[str, str], list[float]] = {}
        for _ in range(runs):
            for label in [RAW, *labels]:
                figures.setdefault(('W1', label), []).append(await w1(engine, label, calls))
            for label in labels:
                figures.setdefault(('W2c', label), []).append(await w2c(engine, label, tasks, per_task))
            print('.', end='', flush=True, file=sys.stderr)
        print(file=sys.stderr)
        header = f'{"workload":8} {"implementation":14} {"median":>10} {"min":>10} {"max":>10} {"unit":9} {"x raw":>6}'
        print(header)
        print('-' * len(header))
        raw = statistics.median(figures[('W1', RAW)])
        for (workload, label), values in figures.items():
            median = statistics.median(values)
            unit = 'us/call' if workload == 'W1' else 'values/s'
            versus = f'{median / raw:.2f}' if workload == 'W1' else '-'
            spread = f'{median:10,.1f} {min(values):10,.1f} {max(values):10,.1f}'
            print(f'{workload:8} {label:14} {spread} {unit:9} {versus:>6}')
        print(f'(W1: {calls} calls in one transaction; W2c: {tasks} tasks x {per_task} transactions; '
              'x raw: time per call over the raw driver\'s, lower is better)')
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python benchmarks/asyncio_run.py', description=__doc__.split('\n')[0])
    parser.add_argument('--db', action='append', choices=['sqlite', 'postgresql', 'mariadb'])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--quick', action='store_true', help='small workloads: a smoke test, not figures')
    arguments = parser.parse_args(argv)
    print(f'software: {environment.software()}')
    print(f'machine:  {environment.machine()}')
    with isolated():
        for url in database_urls(arguments.db).values():
            asyncio.run(measure(url, arguments.runs, arguments.quick))
    return 0


if __name__ == '__main__':
    sys.exit(main())
