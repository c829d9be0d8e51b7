"""A bounded soak: several processes take values from one sequence for a while,
then the values they committed are counted for duplicates and gaps.

    python benchmarks/soak.py [--seconds 60] [--processes 4] [--url URL ...]

Without ``--url`` it soaks a SQLite file in a temporary directory, plus the
databases in MORTAR_RDB_TEST_POSTGRESQL and MORTAR_RDB_TEST_MARIADB when set.
Each worker commits transactions that take a value and insert it into the
table ``soak_values``; one transaction in ten rolls back on purpose; conflicts
are retried with ``transaction.manager.attempts()``. It drops and recreates
``soak_values`` and restarts the sequence ``soak``: point it at a scratch
database. Exit status 1 when a value was committed twice (or, for a gapless
implementation, when one is missing).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy
import transaction
from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, create_engine, delete, func, insert, select
from zope.sqlalchemy import mark_changed

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mortar_rdb import get_session, register_session  # noqa: E402
from mortar_rdb.sequence import generic  # noqa: E402
from tests.implementations import BY_ID  # noqa: E402  (the one list of implementations)

NAME = 'soak'
ROLLBACK_SHARE = 0.1

soak_metadata = MetaData()
# No unique constraint: a duplicate must be counted, not refused.
soak_values = Table(
    'soak_values',
    soak_metadata,
    Column('value', BigInteger, nullable=False),
    Column('worker', Integer, nullable=False),
)


class RollBack(Exception):
    """Raised to roll a transaction back on purpose."""


@dataclass
class Tally:
    committed: int = 0
    rolled_back: int = 0
    retries: int = 0


def work(url: str, implementation: str, twophase: bool, worker: int, seconds: float, go: Any, results: Any) -> None:
    chosen = BY_ID[implementation]
    register_session(url, twophase=twophase)
    chance = random.Random(worker)
    tally = Tally()
    sequence = None
    results.put('ready')
    go.wait()
    deadline = time.time() + seconds
    while time.time() < deadline:
        roll_back = chance.random() < ROLLBACK_SHARE
        try:
            for number, attempt in enumerate(transaction.manager.attempts(50)):
                tally.retries += number > 0
                with attempt:
                    session = get_session()
                    if sequence is None:
                        sequence = chosen.create(NAME, session)
                    value = sequence.next(session)
                    session.execute(insert(soak_values).values(value=value, worker=worker))
                    # Core DML: without this zope.sqlalchemy rolls the insert back
                    # unless a generic sequence happened to mark the session changed.
                    mark_changed(session)
                    if roll_back:
                        raise RollBack()
        except RollBack:
            tally.rolled_back += 1
        else:
            tally.committed += 1
    results.put(tally)


def prepare(url: str, implementation: str) -> None:
    engine = create_engine(url)
    try:
        generic.sequences.create(engine, checkfirst=True)
        soak_metadata.drop_all(engine)
        soak_metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(delete(generic.sequences).where(generic.sequences.c.name == NAME))
    finally:
        engine.dispose()


def check(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows, distinct, highest = connection.execute(
                select(func.count(), func.count(soak_values.c.value.distinct()), func.max(soak_values.c.value))
            ).one()
    finally:
        engine.dispose()
    return {'rows': rows, 'duplicates': rows - distinct, 'missing': (highest or 0) - distinct}


def soak(url: str, implementation: str, seconds: float, processes: int, twophase: bool = True) -> dict[str, Any]:
    prepare(url, implementation)
    context = multiprocessing.get_context('spawn')
    results = context.Queue()
    go = context.Event()
    workers = [
        context.Process(target=work, args=(url, implementation, twophase, worker, seconds, go, results))
        for worker in range(processes)
    ]
    for process in workers:
        process.start()
    for _ in workers:
        assert results.get(timeout=300) == 'ready'
    started = time.time()
    go.set()
    tallies = [results.get(timeout=seconds + 300) for _ in workers]
    for process in workers:
        process.join()
    elapsed = time.time() - started
    found = check(url)
    committed = sum(tally.committed for tally in tallies)
    return {
        'committed': committed,
        'per_second': committed / elapsed,
        'rolled_back': sum(tally.rolled_back for tally in tallies),
        'retries': sum(tally.retries for tally in tallies),
        'elapsed': elapsed,
        'lost': committed - found['rows'],
        **found,
    }


def default_urls(directory: str) -> list[str]:
    urls = [f'sqlite:///{directory}/soak.db?timeout=60']
    for variable in ('MORTAR_RDB_TEST_POSTGRESQL', 'MORTAR_RDB_TEST_MARIADB'):
        if os.environ.get(variable):
            urls.append(os.environ[variable])
    return urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='how long to soak each database (default 60)')
    parser.add_argument('--processes', type=int, default=4, help='worker processes (default 4)')
    parser.add_argument('--url', action='append', help='a database URL; repeat for several (default: see above)')
    parser.add_argument('--implementation', choices=sorted(BY_ID), default='generic')
    parser.add_argument(
        '--one-phase',
        action='store_true',
        help="register_session(twophase=False): no XA on MariaDB (default: two-phase where the server can)",
    )
    arguments = parser.parse_args(argv)
    gapless = BY_ID[arguments.implementation].gapless
    print(
        f'# {arguments.implementation}, {arguments.processes} processes x {arguments.seconds:g} s, '
        f'{ROLLBACK_SHARE:.0%} rolled back on purpose, {"one" if arguments.one_phase else "two"}-phase commit; '
        f'Python {platform.python_version()}, '
        f'SQLAlchemy {sqlalchemy.__version__}, {os.cpu_count()} CPUs'
    )
    print(
        f'{"database":<12} {"values/s":>9} {"committed":>10} {"rollbacks":>10} {"retries":>8} '
        f'{"duplicates":>11} {"missing":>8} {"lost":>5}'
    )
    failed = False
    with tempfile.TemporaryDirectory() as directory:
        for url in arguments.url or default_urls(directory):
            result = soak(
                url, arguments.implementation, arguments.seconds, arguments.processes, not arguments.one_phase
            )
            database = sqlalchemy.make_url(url).get_backend_name()
            print(
                f'{database:<12} {result["per_second"]:>9.1f} {result["committed"]:>10} {result["rolled_back"]:>10} '
                f'{result["retries"]:>8} {result["duplicates"]:>11} '
                f'{result["missing"] if gapless else "-":>8} {result["lost"]:>5}',
                flush=True,
            )
            failed |= bool(result['duplicates'] or result['lost'] or (gapless and result['missing']))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
