"""What ``next()`` costs in a one-value transaction, next to the statement it sends.

    python benchmarks/transaction_cost.py [--db NAME ...] [--threads 20] [--per-thread 100] [--runs 5]

From ``--threads`` threads at once, each transaction runs through
``transaction.manager`` on the registered session (``register_session``,
one-phase commit unless ``--twophase``), and the figure is values (or
transactions) per second for each of:

``next()``
    ``get_sequence('bench_tx').next(get_session())``: the generic sequence.
``text()``
    the same increment sent through the same session as SQLAlchemy
    ``text()``: ``UPDATE .. RETURNING`` (on MariaDB and MySQL
    ``UPDATE .. SET current = LAST_INSERT_ID(current + 1)`` and the
    result's ``lastrowid``), then ``mark_changed()`` so that it commits.
``empty``
    a transaction that takes the session's connection and sends nothing:
    the cost of the transaction and session machinery alone.
``SELECT 1``
    a transaction that sends ``SELECT 1`` and commits (``mark_changed()``):
    the machinery plus a round trip and a COMMIT, with no row to wait for.
``raw``
    a DB-API connection per thread, no SQLAlchemy and no ``transaction``:
    the SQL string ``next()`` sends, then the driver's ``commit()``.

Every value comes from the one row ``bench_tx``, so the threads queue for
its lock as an application's do. The variants' runs alternate, so load from
elsewhere on the machine falls on all of them; the table gives the median,
minimum and maximum of the runs. SQLite is a file on tmpfs where there is
one; PostgreSQL and MariaDB are measured when $MORTAR_RDB_TEST_POSTGRESQL
and $MORTAR_RDB_TEST_MARIADB give their URLs. It writes the row
``bench_tx`` of the ``sequences`` table: use scratch databases.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import environment  # noqa: E402
import transaction  # noqa: E402
from run import SERVERS, database_urls  # noqa: E402
from sqlalchemy import Engine, create_engine, delete, text  # noqa: E402
from timing import timed_in_threads  # noqa: E402
from zope.sqlalchemy import mark_changed  # noqa: E402

from implementations import increment_sql  # noqa: E402
from mortar_rdb import get_session, register_session  # noqa: E402
from mortar_rdb.registry import isolated  # noqa: E402
from mortar_rdb.sequence import get_sequence, register_sequence  # noqa: E402
from mortar_rdb.sequence.generic import sequences  # noqa: E402

NAME = 'bench_tx'
#: The highest stored value the increment accepts, as next() passes it.
HIGHEST_START = 2**63 - 2
VARIANTS = ('next()', 'text()', 'empty', 'SELECT 1', 'raw')

#: The increment as a user would write it with text(), by dialect name.
RETURNING = text(
    'UPDATE sequences SET current = current + 1 WHERE name = :name AND current <= :highest RETURNING current'
)
LAST_INSERT_ID = text(
    'UPDATE sequences SET current = LAST_INSERT_ID(current + 1) WHERE name = :name AND current <= :highest'
)

SELECT_1 = text('SELECT 1')

#: One transaction of a variant, run by one thread; and how that thread cleans up.
Transaction = Callable[[], None]


def with_next() -> tuple[Transaction, Callable[[], None]]:
    sequence = get_sequence(NAME)

    def one() -> None:
        with transaction.manager:
            sequence.next(get_session())

    return one, get_session().close


def with_text() -> tuple[Transaction, Callable[[], None]]:
    parameters = {'name': NAME, 'highest': HIGHEST_START}

    def one() -> None:
        with transaction.manager:
            session = get_session()
            if session.bind.dialect.update_returning:
                session.execute(RETURNING, parameters).scalar_one()
            else:
                assert session.execute(LAST_INSERT_ID, parameters).lastrowid
            mark_changed(session)

    return one, get_session().close


def empty() -> tuple[Transaction, Callable[[], None]]:
    def one() -> None:
        with transaction.manager:
            get_session().connection()

    return one, get_session().close


def select_1() -> tuple[Transaction, Callable[[], None]]:
    def one() -> None:
        with transaction.manager:
            session = get_session()
            session.execute(SELECT_1)
            mark_changed(session)

    return one, get_session().close


def raw_driver(engine: Engine, sql: str, parameters: Any) -> Callable[[], tuple[Transaction, Callable[[], None]]]:
    returns = 'RETURNING' in sql.upper()

    def make() -> tuple[Transaction, Callable[[], None]]:
        arguments, keywords = engine.dialect.create_connect_args(engine.url)
        connection = engine.dialect.loaded_dbapi.connect(*arguments, **keywords)
        cursor = connection.cursor()

        def one() -> None:
            cursor.execute(sql, parameters)
            assert cursor.fetchone()[0] if returns else cursor.lastrowid
            connection.commit()

        return one, connection.close

    return make


def per_second(make: Callable[[], tuple[Transaction, Callable[[], None]]], threads: int, per_thread: int) -> float:
    """Transactions per second, ``threads`` threads each running ``per_thread`` of them."""

    def work(start: threading.Barrier) -> None:
        one, close = make()
        try:
            start.wait()
            for _ in range(per_thread):
                one()
        finally:
            close()

    elapsed = timed_in_threads(threads, work)
    return threads * per_thread / elapsed


def measure(url: str, threads: int, per_thread: int, runs: int, twophase: bool) -> dict[str, list[float]]:
    engine = create_engine(url, pool_size=threads + 2)
    try:
        sequences.create(engine, checkfirst=True)
        with engine.begin() as connection:
            connection.execute(delete(sequences).where(sequences.c.name == NAME))
        print(f'\n== {environment.server(engine)}', flush=True)
        with isolated():
            register_session(engine=engine, twophase=twophase)
            with transaction.manager:
                register_sequence(NAME, get_session())
            sql, parameters = increment_sql(url, NAME)
            raw = raw_driver(engine, sql, parameters)
            makers = {'next()': with_next, 'text()': with_text, 'empty': empty, 'SELECT 1': select_1, 'raw': raw}
            figures: dict[str, list[float]] = {variant: [] for variant in VARIANTS}
            for _ in range(runs):
                for variant in VARIANTS:
                    figures[variant].append(per_second(makers[variant], threads, per_thread))
                    print('.', end='', flush=True, file=sys.stderr)
            print(file=sys.stderr)
            get_session().close()
        return figures
    finally:
        engine.dispose()


def table(figures: dict[str, list[float]]) -> str:
    medians = {variant: statistics.median(runs) for variant, runs in figures.items()}
    lines = [f'{"variant":9} {"median/s":>9} {"min/s":>9} {"max/s":>9} {"x text()":>9} {"x raw":>7}']
    for variant, runs in figures.items():
        lines.append(
            f'{variant:9} {medians[variant]:9,.0f} {min(runs):9,.0f} {max(runs):9,.0f}'
            f' {medians[variant] / medians["text()"]:9.2f} {medians[variant] / medians["raw"]:7.2f}'
        )
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='python benchmarks/transaction_cost.py', description=__doc__.split('\n')[0])
    parser.add_argument('--db', action='append', choices=['sqlite', *SERVERS], help='only this database (repeatable)')
    parser.add_argument('--threads', type=int, default=20, help='threads at once (%(default)s)')
    parser.add_argument('--per-thread', type=int, default=100, help='transactions per thread per run (%(default)s)')
    parser.add_argument('--runs', type=int, default=5, help='runs of each variant, alternating (%(default)s)')
    parser.add_argument('--twophase', action='store_true', help='register_session(twophase=True): XA on MariaDB')
    arguments = parser.parse_args(argv)
    print(f'software: {environment.software()}')
    print(f'machine:  {environment.machine()}')
    print(
        f'{arguments.threads} threads x {arguments.per_thread} one-value transactions, {arguments.runs} runs, '
        f'{"two" if arguments.twophase else "one"}-phase commit'
    )
    for url in database_urls(arguments.db).values():
        figures = measure(url, arguments.threads, arguments.per_thread, arguments.runs, arguments.twophase)
        print(table(figures), flush=True)
    print('\nx text() / x raw: the median as a share of the text() / raw driver median')
    return 0


if __name__ == '__main__':
    sys.exit(main())
