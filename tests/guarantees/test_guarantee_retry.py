"""Concurrent transactions on one sequence: each one commits, or fails with an
error that the transaction package retries. Never a duplicate, never a lost value."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import transaction
from sqlalchemy import event, insert, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from transaction.interfaces import TransientError
from zope.sqlalchemy import mark_changed

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence.errors import SequenceConflict
from mortar_rdb.sequence.generic import sequences
from tests.guarantees.cases import applies
from tests.workers import taken

# A test taking ``level`` runs at each isolation level its database offers
# (tests/databases.py lists them): see conftest.py.

#: Only implementations whose next() makes other transactions wait for the caller's.
blocking = applies(lambda implementation, backend: implementation.blocks_others)


def register(setup: Any, engine: Any, name: str = 'seq') -> Any:
    with Session(engine) as session:
        sequence = setup.implementation.register(name, session)
        session.commit()
    return sequence


def read_the_sequence_table(setup: Any, session: Session) -> None:
    """What an application might do first: read the sequence's row."""
    if setup.implementation.uses_table:
        session.execute(select(sequences.c.current).where(sequences.c.name == 'seq')).all()


def reads_lock_out_reservations(setup: Any, level: str) -> bool:
    """Whether a read of the row would make this sequence's reservations wait for the reader.

    MariaDB at SERIALIZABLE: the read takes a shared lock, and a reservation
    made for the reader waits for it until ``innodb_lock_wait_timeout``
    (50 s); ``test_a_transaction_that_read_the_row_..`` shows that.
    """
    implementation = setup.implementation
    reserves = implementation.uses_table and not implementation.blocks_others
    return reserves and (setup.backend, level) == ('mysql', 'SERIALIZABLE')


def in_thread(function: Callable[[], Any]) -> Callable[[], Any]:
    """Start ``function`` in a thread; the result waits for it and re-raises its error."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append((True, function()))
        except BaseException as error:  # noqa: BLE001 - handed to the caller
            outcome.append((False, error))

    thread = threading.Thread(target=target)
    thread.start()

    def result() -> Any:
        thread.join(120)
        assert outcome, 'the thread did not finish'
        ok, value = outcome[0]
        if not ok:
            raise value
        return value

    return result


@blocking
def test_waiting_too_long_for_a_held_sequence_raises_a_retryable_error(setup):
    engine = setup.engine(short_lock_wait=True)
    sequence = register(setup, engine)
    with Session(engine) as holder, Session(engine) as waiter:
        assert sequence.next(holder) == 1
        with pytest.raises(SequenceConflict) as caught:
            sequence.next(waiter)
        holder.commit()
        waiter.rollback()
        assert sequence.next(waiter) == 2
    assert isinstance(caught.value, TransientError)
    assert 'transaction.manager.attempts()' in str(caught.value)


def held_for_a_while(setup: Any) -> tuple[Any, Callable[[], Any]]:
    """The sequence, with a thread holding its first value for 2.5 s before committing.

    Returns the sequence and a function that waits for the holder and
    gives its value; the test's own session is registered.
    """
    engine = setup.engine(short_lock_wait=True)
    sequence = register(setup, engine)
    holding = threading.Event()

    def hold() -> int:
        with Session(engine) as holder:
            value = sequence.next(holder)
            holding.set()
            time.sleep(2.5)
            holder.commit()
            return value

    held = in_thread(hold)
    assert holding.wait(30)
    register_session(engine=engine)
    return sequence, held


@blocking
def test_attempts_retries_a_transaction_until_the_holder_commits(setup):
    sequence, held = held_for_a_while(setup)
    tries = 0
    for attempt in transaction.manager.attempts(50):
        with attempt:
            tries += 1
            value = sequence.next(get_session())
    assert (held(), value) == (1, 2)
    assert tries > 1


@blocking
def test_run_retries_a_function_until_the_holder_commits(setup):
    sequence, held = held_for_a_while(setup)
    tries = []

    @transaction.manager.run(50)
    def value() -> int:
        tries.append(1)
        return sequence.next(get_session())

    assert (held(), value) == (1, 2)
    assert len(tries) > 1


#: (database, level) -> which transaction fails and is retried when the first
#: reads the sequence's row, the second takes a value and commits, then the
#: first takes a value
STALE_READ_FAILS = {
    ('postgresql', 'REPEATABLE READ'): ['first'],  # could not serialize access
    ('postgresql', 'SERIALIZABLE'): ['first'],
    ('mysql', 'SERIALIZABLE'): ['second'],  # the read locked the row
}
#: The same for a sequence that reserves values on a connection of its own:
#: on MariaDB at SERIALIZABLE the first's read locks the row, so the second's
#: reservation waits for it, and so does the first's own.
RESERVING_STALE_READ_FAILS = {
    ('mysql', 'SERIALIZABLE'): ['second', 'first'],
}


def stale_read_fails(setup: Any, level: str) -> list[str]:
    if setup.implementation.blocks_others:
        return STALE_READ_FAILS.get((setup.backend, level), [])
    if setup.implementation.uses_table:
        return RESERVING_STALE_READ_FAILS.get((setup.backend, level), [])
    return []


def test_a_transaction_that_read_the_row_before_another_took_a_value_gets_the_next_value_or_a_retryable_error(
    setup, level
):
    engine = setup.engine(short_lock_wait=True, isolation_level=level)
    sequence = register(setup, engine)
    values: dict[str, int] = {}
    failed = []

    def take(who: str, session: Session) -> None:
        try:
            values[who] = sequence.next(session)
            session.commit()
        except TransientError:
            failed.append(who)
            session.rollback()

    with Session(engine) as first, Session(engine) as second:
        read_the_sequence_table(setup, first)
        take('second', second)
        take('first', first)
        for who in failed:
            take(who, {'first': first, 'second': second}[who])
    assert sorted(values.values()) == [1, 2]
    assert failed == stale_read_fails(setup, level)


def test_two_transactions_taking_two_sequences_in_opposite_orders_both_commit(setup):
    engine = setup.engine()
    a, b = register(setup, engine, 'a'), register(setup, engine, 'b')
    register_session(engine=engine)
    first_took, second_took = threading.Event(), threading.Event()
    conflicts = []

    def transaction_taking(one: Any, other: Any, took: threading.Event, wait_for: threading.Event) -> Any:
        def taking() -> tuple[int, int]:
            try:
                session = get_session()
                x = one.next(session)
                took.set()
                # SQLite: the other transaction waits for this one's lock,
                # so this wait runs out and the two do not overlap.
                wait_for.wait(3)
                return x, other.next(session)
            except SequenceConflict as conflict:
                conflicts.append(conflict)
                raise

        return lambda: transaction.manager.run(taking, 10)

    first = in_thread(transaction_taking(a, b, first_took, second_took))
    assert first_took.wait(30)
    second = in_thread(transaction_taking(b, a, second_took, first_took))
    taken_values = sorted([first(), second()])
    assert sorted(v for pair in taken_values for v in pair) == [1, 1, 2, 2]
    if setup.backend == 'sqlite' or not setup.implementation.blocks_others:
        assert conflicts == []
    else:
        # At least the one deadlock the two orders make. The victim retries at
        # once and may take its first row back before the survivor locks it,
        # which deadlocks them again (seen under load): each such round is one
        # more conflict, retried like the first, within run()'s 10 attempts.
        assert 1 <= len(conflicts) < 10


class Rollback(Exception):
    """Raised to roll a transaction back on purpose."""


def test_concurrent_transactions_neither_duplicate_nor_lose_values(setup, level):
    engine = setup.engine(isolation_level=level)
    sequence = register(setup, engine)
    register_session(engine=engine)
    kept: list[int] = []

    def worker(seed: int) -> None:
        chance = random.Random(seed)
        for _ in range(15):
            roll_back = chance.random() < 0.2

            def one_transaction(roll_back: bool = roll_back) -> int:
                session = get_session()
                if not reads_lock_out_reservations(setup, level):
                    read_the_sequence_table(setup, session)
                time.sleep(chance.random() / 100)
                value = sequence.next(session)
                session.execute(insert(taken).values(name='seq', value=value))
                mark_changed(session)
                if roll_back:
                    raise Rollback()
                return value

            try:
                kept.append(transaction.manager.run(one_transaction, 200))
            except Rollback:
                pass

    results = [in_thread(lambda seed=seed: worker(seed)) for seed in range(4)]
    for result in results:
        result()
    committed = setup.committed()
    assert sorted(kept) == committed
    if setup.implementation.gapless:
        assert committed == list(range(1, len(committed) + 1))
    assert len(set(committed)) == len(committed)


def sqlite_with_real_transactions(setup: Any) -> Any:
    """SQLite as SQLAlchemy's docs suggest for true transactions: BEGIN at the
    start of each, so that reads take part in them too. The busy timeout is
    the test URL's 30 seconds."""
    engine = setup.engine()

    @event.listens_for(engine, 'connect')
    def no_implicit_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, 'begin')
    def begin(connection: Any) -> None:
        connection.exec_driver_sql('BEGIN')

    return engine


# SQLite only: its whole database has a single write lock.
@applies(lambda implementation, backend: backend == 'sqlite' and implementation.blocks_others)
@pytest.mark.parametrize('journal', ['delete', 'wal'])
def test_sqlite_refusing_to_wait_for_a_lock_it_could_deadlock_on_is_retryable(setup, journal):
    with setup.engine().connect() as connection:
        connection.exec_driver_sql(f'PRAGMA journal_mode = {journal}')
    engine = sqlite_with_real_transactions(setup)
    sequence = register(setup, engine)
    with Session(engine) as reader, Session(engine) as writer:
        read_the_sequence_table(setup, reader)
        assert sequence.next(writer) == 1
        if journal == 'wal':
            writer.commit()
        # Delete journal: the reader's read lock and the writer's write lock
        # would wait for each other. WAL: the reader's snapshot is stale.
        # Either way SQLite answers "database is locked" at once.
        with pytest.raises(SequenceConflict, match='database is locked'):
            sequence.next(reader)
        reader.rollback()
        writer.commit()
        assert sequence.next(reader) == 2
        reader.commit()


@blocking
def test_code_written_for_3_0_catches_a_conflict_as_the_operational_error_it_was(setup):
    engine = setup.engine(short_lock_wait=True)
    sequence = register(setup, engine)
    with Session(engine) as holder, Session(engine) as waiter:
        assert sequence.next(holder) == 1
        with pytest.raises(OperationalError) as caught:
            sequence.next(waiter)
        holder.rollback()
        waiter.rollback()
    assert isinstance(caught.value, SequenceConflict)
