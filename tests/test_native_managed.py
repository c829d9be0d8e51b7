"""Native sequences as IManagedSequence, where they differ from the others, on PostgreSQL and MariaDB.

What every implementation promises is in tests/guarantees/test_guarantee_managed.py.

restart() and drop() work on a connection of their own and take effect at
once, so each test ends its transaction before calling them.
"""
import threading

import pytest
import transaction
from sqlalchemy import Sequence, create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateSequence

from mortar_rdb import get_session, register_session
from mortar_rdb.sequence import drop_sequence, get_sequence, native, register_sequence
from mortar_rdb.sequence.errors import (
    NativeSequenceMissing,
    NoNativeSequences,
    SequenceChangeBlocked,
    SequenceNotRegistered,
    SequenceRestartRefused,
)

from .databases import server_urls
from .helpers import run_in_threads
from .test_native import execute, sequence_names

on_servers = pytest.mark.parametrize('db_url', list(server_urls()), indirect=True)
on_sqlite = pytest.mark.parametrize('db_url', ['sqlite'], indirect=True)


@pytest.fixture
def session(db_url):
    register_session(db_url)
    return get_session()


def registered(session, name='seq', **options):
    sequence = register_sequence(name, session, impl=native.SequenceImplementation, **options)
    transaction.abort()
    return sequence


def take(session, sequence, count=1):
    with transaction.manager:
        return sequence.next_many(session, count) if count != 1 else sequence.next(session)


# next_many ------------------------------------------------------------------


@on_servers
def test_next_many_returns_a_list_of_the_values_after_the_last_one(session):
    sequence = registered(session)
    take(session, sequence)
    assert take(session, sequence, 5) == [2, 3, 4, 5, 6]
    assert take(session, sequence) == 7


@on_servers
def test_next_many_values_are_increasing_and_unique_while_others_take_values(db_url):
    engine = create_engine(db_url, pool_size=5)
    with Session(engine) as session:
        native.SequenceImplementation('busy', session)
    barrier = threading.Barrier(4)
    batches: list[list[int]] = []

    def worker() -> None:
        with Session(engine) as session:
            sequence = native.SequenceImplementation.for_existing('busy')
            barrier.wait(timeout=30)
            for _ in range(20):
                batches.append(sequence.next_many(session, 50))
                session.rollback()

    try:
        run_in_threads(worker, 4)
    finally:
        engine.dispose()
    taken = [value for batch in batches for value in batch]
    assert sorted(taken) == list(range(1, 4001))
    assert all(batch == sorted(batch) and len(batch) == 50 for batch in batches)


@on_servers
def test_next_many_past_the_largest_value_is_a_clear_error(db_url, session):
    execute(db_url, CreateSequence(Sequence('short', start=1, maxvalue=3)))
    sequence = registered(session, 'short')
    with pytest.raises(OverflowError, match="'short' has reached its largest value"):
        sequence.next_many(session, 5)


# current --------------------------------------------------------------------


@on_servers
def test_current_counts_values_taken_by_other_connections(db_url, session):
    sequence = registered(session)
    engine = create_engine(db_url)
    try:
        with Session(engine) as other:
            sequence.next_many(other, 7)
            other.commit()
    finally:
        engine.dispose()
    assert sequence.current(session) == 7


# restart --------------------------------------------------------------------


@on_servers
def test_restart_never_hands_a_value_out_twice_while_others_take_values(db_url):
    # Each restart aims a little past where the sequence stands, while four
    # threads take values as fast as they can: some restarts are refused,
    # some go through, and no value may come out twice either way.
    engine = create_engine(db_url, pool_size=8)
    with Session(engine) as session:
        sequence = native.SequenceImplementation('busy', session)
    stop = threading.Event()
    taken: list[int] = []
    refused = done = 0

    def worker() -> None:
        with Session(engine) as session:
            while not stop.is_set():
                taken.append(sequence.next(session))
                session.rollback()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        with Session(engine) as session:
            for attempt in range(20):
                target = (sequence.current(session) or 0) + 5 * (attempt + 1)
                session.rollback()
                try:
                    sequence.restart(session, target)
                    done += 1
                except SequenceRestartRefused:
                    refused += 1
                session.rollback()
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        engine.dispose()
    assert done + refused == 20
    assert len(taken) == len(set(taken))


@on_servers
@pytest.mark.parametrize('force', [False, True], ids=['forwards', 'forced'])
def test_restart_of_a_dropped_sequence_raises_native_sequence_missing(session, force):
    sequence = registered(session)
    drop_sequence('seq', session)
    with pytest.raises(NativeSequenceMissing):
        sequence.restart(session, 5, force=force)


@on_servers
def test_restart_does_not_touch_the_callers_transaction(db_url, session):
    execute(db_url, 'CREATE TABLE guest (id INTEGER)')
    sequence = registered(session)
    session.execute(text('INSERT INTO guest VALUES (1)'))
    sequence.restart(session, 20, force=True)
    transaction.abort()
    assert session.execute(text('SELECT COUNT(*) FROM guest')).scalar() == 0


@on_servers
def test_restart_behind_a_transaction_that_took_values_gives_up_with_a_clear_error(session, monkeypatch):
    monkeypatch.setattr(native, 'LOCK_WAIT_SECONDS', 1)
    sequence = registered(session)
    sequence.next(session)  # the transaction stays open, holding the sequence
    with pytest.raises(SequenceChangeBlocked, match="Restarting the native sequence 'seq' waited 1s"):
        # Only forcing needs that lock on MariaDB; PostgreSQL needs it for both.
        sequence.restart(session, 100, force=True)


# drop -----------------------------------------------------------------------


@on_servers
def test_drop_sequence_drops_it_at_once_and_removes_the_registration(db_url, session):
    take(session, registered(session), 3)
    assert drop_sequence('seq', session) is True
    transaction.abort()
    assert sequence_names(db_url) == []
    with pytest.raises(SequenceNotRegistered):
        get_sequence('seq')


@on_servers
def test_drop_storage_of_an_unknown_name_says_it_did_not_exist(session):
    assert native.SequenceImplementation.drop_storage('never', session) is False


@on_servers
def test_drop_sequence_of_an_unregistered_name_drops_its_sequence(db_url, session):
    execute(db_url, CreateSequence(Sequence('made_by_hand')))
    assert drop_sequence('made_by_hand', session, impl=native.SequenceImplementation) is True
    assert sequence_names(db_url) == []


@on_servers
def test_drop_leaves_a_table_of_that_name_alone(db_url, session):
    execute(db_url, 'CREATE TABLE taken (id INTEGER)')
    assert native.SequenceImplementation.drop_storage('taken', session) is False
    assert session.execute(text('SELECT COUNT(*) FROM taken')).scalar() == 0


@on_servers
def test_drop_behind_a_transaction_that_took_values_gives_up_with_a_clear_error(session, monkeypatch):
    monkeypatch.setattr(native, 'LOCK_WAIT_SECONDS', 1)
    sequence = registered(session)
    sequence.next(session)
    with pytest.raises(SequenceChangeBlocked, match="Dropping the native sequence 'seq' waited 1s"):
        sequence.drop(session)


# Where there are no native sequences -----------------------------------------


@on_sqlite
@pytest.mark.parametrize(
    'operation',
    [
        lambda sequence, session: sequence.next_many(session, 2),
        lambda sequence, session: sequence.current(session),
        lambda sequence, session: sequence.restart(session, 5),
        lambda sequence, session: sequence.drop(session),
        lambda sequence, session: native.names(session),
    ],
    ids=['next_many', 'current', 'restart', 'drop', 'names'],
)
def test_sqlite_says_it_has_no_native_sequences(session, operation):
    with pytest.raises(NoNativeSequences, match='SQLite has no native sequences'):
        operation(native.SequenceImplementation.for_existing('seq'), session)


@on_servers
def test_names_lists_the_native_sequences_sorted(db_url, session):
    registered(session, 'b')
    registered(session, 'a')
    assert native.names(session) == ['a', 'b']
