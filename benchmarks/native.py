"""How fast native sequences are, next to the driver and the generic implementation.

For each database URL given (default: $MORTAR_RDB_TEST_POSTGRESQL and
$MORTAR_RDB_TEST_MARIADB) it prints:

- microseconds per ``next()`` in one transaction, against the driver running
  the database's own nextval statement on a raw DB-API cursor, measured in
  alternating short batches in the same run (the fastest and the median
  batch of each, and the median ratio of neighbouring batches, the figure
  least disturbed by other load on the machine);
- values per second with 20 threads, each value in its own transaction,
  for the native and the generic implementation (``--hold-ms`` keeps each
  transaction open a while after taking its value, as real work would).

Run: ``python benchmarks/native.py [URL ...]``. It drops and creates the
sequences ``bench_native``, ``bench_raw`` and ``bench_generic`` (and the
``sequences`` table) in those databases.
"""
from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, Sequence, create_engine
from sqlalchemy.orm import Session
from sqlalchemy.schema import DropSequence
from timing import timed_in_threads

from mortar_rdb.sequence import generic, native

RAW_NEXTVAL = {
    'postgresql': "SELECT nextval('bench_raw')",
    'mysql': 'SELECT NEXTVAL(bench_raw)',
    'mariadb': 'SELECT NEXTVAL(bench_raw)',
}


def reset(engine: Engine) -> None:
    with engine.begin() as connection:
        for name in ('bench_native', 'bench_raw'):
            connection.execute(DropSequence(Sequence(name), if_exists=True))
        generic.sequences.drop(connection, checkfirst=True)
        generic.sequences.create(connection)
    # Made by native registration itself (on MariaDB without a cache), so
    # both sides run the same SQL on the same kind of sequence.
    with Session(engine) as session:
        native.SequenceImplementation('bench_raw', session)


def per_call(engine: Engine, batches: int, batch: int) -> tuple[list[float], list[float]]:
    """Microseconds per value, per batch: native next() and the raw driver.

    Both run side by side, each in one open transaction, in alternating
    short batches, so that load from elsewhere on the machine falls on both.
    """
    statement = RAW_NEXTVAL[engine.dialect.name]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        with Session(engine) as session, session.begin():
            sequence = native.SequenceImplementation('bench_native', session)
            ours, theirs = [], []

            def take_native() -> float:
                started = time.perf_counter()
                for _ in range(batch):
                    sequence.next(session)
                return (time.perf_counter() - started) / batch * 1e6

            def take_raw() -> float:
                started = time.perf_counter()
                for _ in range(batch):
                    cursor.execute(statement)
                    cursor.fetchone()
                return (time.perf_counter() - started) / batch * 1e6

            for number in range(batches):
                # Alternate which goes first, so neither always follows the other.
                if number % 2:
                    theirs.append(take_raw())
                    ours.append(take_native())
                else:
                    ours.append(take_native())
                    theirs.append(take_raw())
        raw.rollback()
        return ours, theirs
    finally:
        raw.close()


def contended(
    engine: Engine, make: Callable[[Session], object], threads: int, per_thread: int, hold: float = 0.0
) -> float:
    """Values per second, ``threads`` threads, one transaction per value.

    Each transaction stays open ``hold`` seconds after taking its value, as
    one doing other work would.
    """
    with Session(engine) as session, session.begin():
        sequence = make(session)

    def work(start: threading.Barrier) -> None:
        with Session(engine) as session:
            start.wait()
            for _ in range(per_thread):
                with session.begin():
                    sequence.next(session)  # type: ignore[attr-defined]
                    if hold:
                        time.sleep(hold)

    return threads * per_thread / timed_in_threads(threads, work)


def measure(url: str, batches: int, batch: int, threads: int, per_thread: int, hold_ms: float) -> None:
    engine = create_engine(url, pool_size=threads + 2)
    try:
        reset(engine)
        ours, theirs = per_call(engine, batches, batch)
        print(f'{engine.dialect.name} ({url.split("@")[-1]})')
        for label, pick in (('fastest batch', min), ('median batch', statistics.median)):
            native_us, raw_us = pick(ours), pick(theirs)
            print(
                f'  next() in one transaction, {label}:  native {native_us:6.1f} µs   '
                f'raw driver {raw_us:6.1f} µs   ratio {native_us / raw_us:.2f}'
            )
        paired = statistics.median(mine / driver for mine, driver in zip(ours, theirs, strict=True))
        print(f'  median ratio of side-by-side batches: {paired:.2f}')
        makers = {
            'native': lambda session: native.SequenceImplementation('bench_native', session),
            'generic': lambda session: generic.SequenceImplementation('bench_generic', session),
        }
        rates: dict[str, list[float]] = {label: [] for label in makers}
        for _ in range(3):  # alternating, best of three, for the noise
            for label, make in makers.items():
                rates[label].append(contended(engine, make, threads, per_thread, hold_ms / 1000))
        held = f', held {hold_ms:g} ms' if hold_ms else ''
        print(
            f'  {threads} threads, a transaction per value{held}, best of 3:  '
            + '   '.join(f'{label} {max(values):6.0f}/s' for label, values in rates.items())
        )
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('urls', nargs='*', help='SQLAlchemy URLs (default: the test databases from the environment)')
    parser.add_argument('--batches', type=int, default=100, help='alternating batches (%(default)s)')
    parser.add_argument('--batch', type=int, default=200, help='values per batch (%(default)s)')
    parser.add_argument('--threads', type=int, default=20, help='threads for contention (%(default)s)')
    parser.add_argument('--per-thread', type=int, default=200, help='values per thread (%(default)s)')
    parser.add_argument(
        '--hold-ms', type=float, default=0, help='keep each transaction open this long after next() (%(default)s)'
    )
    arguments = parser.parse_args()
    urls = arguments.urls or [
        os.environ[variable]
        for variable in ('MORTAR_RDB_TEST_POSTGRESQL', 'MORTAR_RDB_TEST_MARIADB')
        if os.environ.get(variable)
    ]
    if not urls:
        parser.error('give database URLs, or set MORTAR_RDB_TEST_POSTGRESQL / MORTAR_RDB_TEST_MARIADB')
    for url in urls:
        measure(url, arguments.batches, arguments.batch, arguments.threads, arguments.per_thread, arguments.hold_ms)


if __name__ == '__main__':
    main()
