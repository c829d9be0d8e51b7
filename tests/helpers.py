"""Small helpers shared by the tests."""
from __future__ import annotations

import threading
from contextlib import contextmanager

import transaction
from sqlalchemy import create_engine, insert, select
from zope.sqlalchemy import mark_changed

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.sequence import pooled as pooled_implementation
from mortar_rdb.sequence.generic import sequences
from tests.workers import taken, taken_metadata

MORTAR_3_TABLE = 'CREATE TABLE sequences (name VARCHAR(20) NOT NULL, current INTEGER, PRIMARY KEY (name))'


def make_mortar3_table(url, rows=(('invoices', 41),)):
    """Create 3.0's table (``name VARCHAR(20)``, nullable 32-bit ``current``) holding ``rows``."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(MORTAR_3_TABLE)
            for name, current in rows:
                connection.exec_driver_sql(
                    f"INSERT INTO sequences (name, current) VALUES ('{name}', {'NULL' if current is None else current})"
                )
    finally:
        engine.dispose()


def stored_values(url: str) -> dict[str, int]:
    """What the sequences table holds, read on a connection of its own."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(select(sequences.c.name, sequences.c.current)).all())
    finally:
        engine.dispose()


def write(session, statement):
    """Run a Core write through a transactional session, as a user would."""
    session.execute(statement)
    mark_changed(session)


def run_in_threads(target, count):
    """Run ``target()`` in ``count`` threads at once and wait for all of them."""
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def pooled_session(url):
    """The registered transactional session on ``url``, with the sequences and ``taken`` tables."""
    engine = create_engine(url)
    sequences.create(engine)
    taken_metadata.create_all(engine)
    engine.dispose()
    register_session(url)
    return get_session()


def pooled(name, session, **options):
    """Register pooled sequence ``name`` and return it."""
    with transaction.manager:
        register_sequence(name, session, impl=pooled_implementation.SequenceImplementation, **options)
    return get_sequence(name)


@contextmanager
def caller_has_written(session):
    """A pooled sequence (block size 1) while the caller's transaction has written.

    On SQLite that transaction holds the database's one write lock.
    """
    sequence = pooled('seq', session, block_size=1)
    transaction.begin()
    session.execute(insert(taken).values(name='caller', value=-1))
    session.flush()
    try:
        yield sequence
    finally:
        transaction.abort()
