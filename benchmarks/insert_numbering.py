"""W4: numbering a row at its INSERT against taking the number first, in transactions that do other work.

    python benchmarks/insert_numbering.py [--db NAME ...] [--threads 16] [--per-thread 10] [--runs 3] [--k 0,3,10]

From ``--threads`` threads at once, each transaction (a plain SQLAlchemy
``Session``) runs K queries that take about 2 ms each (``pg_sleep(0.002)``,
``SLEEP(0.002)``; on SQLite a 2 ms Python sleep and ``SELECT 1``) and
inserts one row, then commits. The figure is committed transactions per
second for each of:

``next() first``
    ``get_sequence('bench_w4').next(session)`` at the start of the
    transaction (the generic, gapless sequence), the number given to the row
    explicitly: the row's lock is held through the K queries.
``at INSERT``
    the row's column is declared ``default=sequence_value('bench_w4')``:
    the number is taken when the row is flushed at commit.
``one statement``
    PostgreSQL only, hand-written: ``WITH n AS (UPDATE sequences .. RETURNING
    current) INSERT .. SELECT current FROM n``, the number and the row in
    one statement, to see what a single statement would gain.
``ceiling``
    the same transactions inserting a row with no number at all.

The numbered variants are checked to have committed exactly 1..N. The
variants' runs alternate, so load from elsewhere falls on all of them; the
table gives medians, and the ratios of ``at INSERT`` to ``next() first``
and to ``ceiling``. SQLite is a file on tmpfs where there is one;
PostgreSQL and MariaDB are measured when $MORTAR_RDB_TEST_POSTGRESQL and
$MORTAR_RDB_TEST_MARIADB give their URLs. It creates and empties the tables
``bench_w4_numbered`` and ``bench_w4_plain`` and the row ``bench_w4`` of the
``sequences`` table: use scratch databases.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import environment  # noqa: E402
from run import SERVERS, database_urls  # noqa: E402
from sqlalchemy import BigInteger, Column, Engine, Integer, MetaData, String, Table, create_engine, delete, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from timing import timed_in_threads  # noqa: E402

from mortar_rdb.registry import isolated  # noqa: E402
from mortar_rdb.sequence import get_sequence, register_sequence, sequence_value  # noqa: E402
from mortar_rdb.sequence.generic import sequences  # noqa: E402

NAME = 'bench_w4'
VARIANTS = ('next() first', 'at INSERT', 'one statement', 'ceiling')

metadata = MetaData()
numbered = Table(
    'bench_w4_numbered',
    metadata,
    Column('id', Integer, primary_key=True),
    Column('number', BigInteger, unique=True, default=sequence_value(NAME)),
    Column('payload', String(50)),
)
plain = Table('bench_w4_plain', metadata, Column('id', Integer, primary_key=True), Column('payload', String(50)))

#: A query taking about 2 ms on the server, by dialect name; SQLite sleeps in Python.
SLOW_QUERY = {'postgresql': text('SELECT pg_sleep(0.002)'), 'mysql': text('SELECT SLEEP(0.002)')}
ONE_STATEMENT = text(
    'WITH n AS (UPDATE sequences SET current = current + 1 WHERE name = :name RETURNING current) '
    'INSERT INTO bench_w4_numbered (number, payload) SELECT current, :payload FROM n'
)


def queries(session: Session, k: int) -> None:
    """The transaction's other work: ``k`` queries of about 2 ms."""
    slow = SLOW_QUERY.get(session.get_bind().dialect.name)
    for _ in range(k):
        if slow is None:
            time.sleep(0.002)
            session.execute(text('SELECT 1'))
        else:
            session.execute(slow)


def next_first(engine: Engine, k: int) -> None:
    with Session(engine) as session, session.begin():
        number = get_sequence(NAME).next(session)
        queries(session, k)
        session.execute(numbered.insert().values(number=number, payload='x'))


def at_insert(engine: Engine, k: int) -> None:
    with Session(engine) as session, session.begin():
        queries(session, k)
        session.execute(numbered.insert().values(payload='x'))


def one_statement(engine: Engine, k: int) -> None:
    with Session(engine) as session, session.begin():
        queries(session, k)
        session.execute(ONE_STATEMENT, {'name': NAME, 'payload': 'x'})


def ceiling(engine: Engine, k: int) -> None:
    with Session(engine) as session, session.begin():
        queries(session, k)
        session.execute(plain.insert().values(payload='x'))


TRANSACTIONS: dict[str, Callable[[Engine, int], None]] = {
    'next() first': next_first,
    'at INSERT': at_insert,
    'one statement': one_statement,
    'ceiling': ceiling,
}


def reset(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(delete(numbered))
        connection.execute(delete(plain))
        connection.execute(sequences.update().where(sequences.c.name == NAME).values(current=0))


def check(engine: Engine, variant: str) -> None:
    with engine.connect() as connection:
        committed = connection.execute(select(numbered.c.number).order_by(numbered.c.number)).scalars().all()
    if committed != list(range(1, len(committed) + 1)):
        raise AssertionError(f'{variant}: the committed numbers are not exactly 1..{len(committed)}')


def per_second(engine: Engine, variant: str, k: int, threads: int, per_thread: int) -> float:
    one = TRANSACTIONS[variant]

    def work(start: threading.Barrier) -> None:
        start.wait()
        for _ in range(per_thread):
            one(engine, k)

    reset(engine)
    elapsed = timed_in_threads(threads, work)
    if variant != 'ceiling':
        check(engine, variant)
    return threads * per_thread / elapsed


def measure(url: str, ks: list[int], threads: int, per_thread: int, runs: int) -> dict[tuple[str, int], float]:
    engine = create_engine(url, pool_size=threads + 2)
    try:
        sequences.create(engine, checkfirst=True)
        metadata.drop_all(engine)
        metadata.create_all(engine)
        print(f'\n== {environment.server(engine)}', flush=True)
        variants = [v for v in VARIANTS if v != 'one statement' or engine.dialect.name == 'postgresql']
        figures: dict[tuple[str, int], list[float]] = {}
        with isolated():
            with Session(engine) as session:
                register_sequence(NAME, session)
                session.commit()
            for _ in range(runs):
                for k in ks:
                    for variant in variants:
                        figures.setdefault((variant, k), []).append(per_second(engine, variant, k, threads, per_thread))
                        print('.', end='', flush=True, file=sys.stderr)
            print(file=sys.stderr)
        metadata.drop_all(engine)
        return {key: statistics.median(values) for key, values in figures.items()}
    finally:
        engine.dispose()


def table(medians: dict[tuple[str, int], float], ks: list[int]) -> str:
    variants = [v for v in VARIANTS if (v, ks[0]) in medians]
    lines = [' K  ' + ''.join(f'{variant:>14}' for variant in variants) + f'{"x next()":>10}{"x ceiling":>10}']
    for k in ks:
        row = ''.join(f'{medians[variant, k]:14,.0f}' for variant in variants)
        insert = medians['at INSERT', k]
        lines.append(
            f'{k:2}  {row}{insert / medians["next() first", k]:10.2f}{insert / medians["ceiling", k]:10.2f}'
        )
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python benchmarks/insert_numbering.py', description=__doc__.split('\n')[0])
    parser.add_argument('--db', action='append', choices=['sqlite', *SERVERS], help='only this database (repeatable)')
    parser.add_argument('--threads', type=int, default=16, help='threads at once (%(default)s)')
    parser.add_argument('--per-thread', type=int, default=10, help='transactions per thread per run (%(default)s)')
    parser.add_argument('--runs', type=int, default=3, help='runs of each variant, alternating (%(default)s)')
    parser.add_argument('--k', default=','.join(map(str, range(11))), help='the values of K (%(default)s)')
    arguments = parser.parse_args(argv)
    ks = [int(k) for k in arguments.k.split(',')]
    print(environment.software())
    print(environment.machine())
    print(f'{arguments.threads} threads x {arguments.per_thread} transactions, median of {arguments.runs} runs')
    results = {}
    for name, url in database_urls(arguments.db).items():
        results[name] = measure(url, ks, arguments.threads, arguments.per_thread, arguments.runs)
    for name, medians in results.items():
        print(f'\n{name}: committed transactions/s; at INSERT as a ratio of next() first and of ceiling')
        print(table(medians, ks))
    print(f'\n{environment.machine()}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
