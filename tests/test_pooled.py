"""The pooled implementation, on every configured database.

What every implementation promises is in tests/guarantees/; here is what only
pooled sequences do. Everything that writes the row (next_many, restart,
drop) is committed at once on the reservation connection, so most tests need
no transaction.
"""
import gc
import multiprocessing
import sys
import weakref
from collections import Counter

import pytest
import transaction
from sqlalchemy import create_engine, delete, insert, update
from sqlalchemy.orm import Session
from zope.interface.verify import verifyObject

from mortar_rdb import get_session, register_session
from mortar_rdb.interfaces import ISequence
from mortar_rdb.sequence import _blocks as blocks_module
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.sequence.__main__ import main
from mortar_rdb.sequence.errors import (
    BlockReservationBlocked,
    SequenceMissing,
    SequenceOverflow,
    SequenceRestartRefused,
    SequenceTableMissing,
    SharedConnectionPool,
)
from mortar_rdb.sequence.generic import sequences
from mortar_rdb.sequence.pooled import DEFAULT_BLOCK_SIZE, SequenceImplementation
from tests.databases import on_servers, only_on
from tests.helpers import caller_has_written, pooled, pooled_session, run_in_threads, stored_values, write
from tests.workers import race, taken

#: The largest value of the sequences table's 64-bit column.
INT64_MAX = 2**63 - 1


@pytest.fixture
def session(db_url):
    """A transactional session on a database with the sequences table."""
    return pooled_session(db_url)


def test_the_implementation_provides_isequence(session):
    assert verifyObject(ISequence, pooled('seq', session))


def test_the_default_block_size_is_used_when_none_is_given(session):
    assert pooled('seq', session).block_size == DEFAULT_BLOCK_SIZE


def test_one_process_hands_out_1_2_3_when_alone(session):
    seq = pooled('seq', session, block_size=2)
    assert [seq.next(session) for _ in range(5)] == [1, 2, 3, 4, 5]


def test_the_stored_value_is_the_top_of_the_reserved_block(session, db_url):
    seq = pooled('seq', session, block_size=10)
    seq.next(session)
    assert stored_values(db_url) == {'seq': 10}


def test_registration_commits_the_new_row_at_once(session, db_url):
    transaction.begin()
    register_sequence('seq', session, impl=SequenceImplementation)
    transaction.abort()
    assert stored_values(db_url) == {'seq': 0}


def test_registration_continues_from_a_stored_value(session, db_url):
    with transaction.manager:
        write(session, insert(sequences).values(name='seq', current=41))
    assert pooled('seq', session).next(session) == 42


def test_a_rollback_does_not_give_the_value_back(session):
    seq = pooled('seq', session, block_size=1)
    transaction.begin()
    seq.next(session)
    transaction.abort()
    assert seq.next(session) == 2


def test_values_left_in_a_block_are_never_handed_out_by_another_instance(session):
    first = pooled('seq', session, block_size=10)
    first.next(session)
    second = SequenceImplementation('seq', session, block_size=10)
    assert second.next(session) == 11


def test_block_size_1_holds_no_row_lock_for_the_callers_transaction(session, db_url):
    seq = pooled('seq', session, block_size=1)
    other_engine = create_engine(db_url)
    try:
        with transaction.manager:
            mine = seq.next(session)
            # Still inside the caller's transaction: another connection is
            # not kept waiting.
            with Session(other_engine) as other, other.begin():
                theirs = seq.next(other)
        assert (mine, theirs) == (1, 2)
    finally:
        other_engine.dispose()


def test_generic_and_pooled_users_of_one_name_never_collide(session):
    blocks = pooled('seq', session, block_size=5)
    with transaction.manager:
        gapless = register_sequence('seq', session)
    values = []
    for _ in range(4):
        values.append(blocks.next(session))
        with transaction.manager:
            values.append(gapless.next(session))
    assert values == [1, 6, 2, 7, 3, 8, 4, 9]


@pytest.fixture
def frequent_thread_switches():
    """Switch threads every microsecond, so races in next() show up."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


# A bare range iterator is what a block takes values from under the GIL;
# a locked one, where Python runs without one.
@pytest.mark.parametrize('taker', [blocks_module._unlocked_taker, blocks_module._locked_taker])
def test_threads_sharing_one_sequence_get_each_value_once_in_order(
    session, taker, monkeypatch, frequent_thread_switches
):
    monkeypatch.setattr(blocks_module, '_taker', taker)
    seq = pooled('seq', session, block_size=7)
    results = []

    def take():
        results.append([seq.next(session) for _ in range(500)])

    run_in_threads(take, 8)
    everything = [value for values in results for value in values]
    assert sorted(everything) == list(range(1, 4001))
    assert all(values == sorted(values) for values in results)


def test_generic_and_pooled_processes_on_one_name_never_commit_the_same_value(session, db_url):
    workers = race(db_url, ['generic', 'pooled', 'generic', 'pooled'], 'seq', 300)
    committed = Counter(value for worker in workers for value in worker.taken())
    assert [value for value, times in committed.items() if times > 1] == []


def _child_takes_a_value(queue):
    sequence = get_sequence('seq')
    queue.put(sequence.next(get_session()))


def test_a_forked_child_takes_a_new_block_not_its_parents(session):
    seq = pooled('seq', session, block_size=10)
    assert seq.next(session) == 1
    parents_connection = seq.reserver._cursor
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    child = context.Process(target=_child_takes_a_value, args=(queue,))
    child.start()
    from_child = queue.get(timeout=60)
    child.join(60)
    assert child.exitcode == 0
    assert from_child == 11
    # The parent goes on with its own block, and its reservation connection
    # still works, not replaced: the child did not talk on it or close it.
    assert [seq.next(session) for _ in range(10)] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 21]
    assert seq.reserver._cursor is parents_connection


def test_block_size_must_be_a_positive_int(session):
    for wrong in (0, -1, 1.5, True, '10'):
        with pytest.raises(ValueError, match='block_size must be a positive int'):
            SequenceImplementation('seq', session, block_size=wrong)


def test_a_missing_row_at_reservation_is_an_error_not_a_restart(session):
    seq = pooled('seq', session, block_size=1)
    with transaction.manager:
        write(session, delete(sequences))
    with pytest.raises(SequenceMissing, match="'seq' has no row"):
        seq.next(session)


def test_registration_without_the_table_says_how_to_create_it(db_url):
    register_session(db_url)
    with pytest.raises(SequenceTableMissing, match='create it with'):
        SequenceImplementation('seq', get_session())


def test_the_last_block_stops_at_the_column_top_and_then_next_raises_overflow(session, db_url):
    seq = pooled('seq', session, block_size=10)
    with transaction.manager:
        write(session, update(sequences).values(current=2**63 - 5))
    assert [seq.next(session) for _ in range(4)] == [2**63 - 4, 2**63 - 3, 2**63 - 2, 2**63 - 1]
    with pytest.raises(SequenceOverflow, match='start a new sequence'):
        seq.next(session)
    assert stored_values(db_url) == {'seq': 2**63 - 1}


def test_an_engine_sharing_one_connection_is_refused():
    register_session('sqlite://')
    with pytest.raises(SharedConnectionPool, match='connection of its own'):
        SequenceImplementation('seq', get_session())


@pytest.fixture
def written(session):
    """A pooled sequence, and a caller's transaction that has written: on SQLite it holds the write lock."""
    with caller_has_written(session) as seq:
        yield seq


# SQLite only: servers lock rows, see the next test.
@only_on('sqlite')
def test_sqlite_refuses_to_reserve_while_the_callers_transaction_holds_the_write_lock(written, session, db_url):
    with pytest.raises(BlockReservationBlocked, match='take values before that transaction writes'):
        written.next(session)


# Servers only: SQLite refuses, see the previous test.
@on_servers
def test_servers_reserve_while_the_callers_transaction_has_written(written, session, db_url):
    assert written.next(session) == 1


# The way round for SQLite's single writer.
@only_on('sqlite')
def test_an_engine_on_another_sqlite_file_reserves_while_the_caller_writes(session, db_url, tmp_path):
    elsewhere = create_engine(f'sqlite:///{tmp_path / "sequences.db"}')
    sequences.create(elsewhere)
    try:
        seq = SequenceImplementation('seq', session, block_size=1, engine=elsewhere)
        with transaction.manager:
            session.execute(insert(taken).values(name='caller', value=-1))
            session.flush()
            assert seq.next(session) == 1
    finally:
        elsewhere.dispose()


def test_reservations_never_wait_for_the_engines_pool(db_url):
    engine = create_engine(db_url, pool_size=1, max_overflow=0, pool_timeout=5)
    sequences.create(engine)
    try:
        with Session(engine) as session, session.begin():
            seq = SequenceImplementation('seq', session, block_size=1)
            session.connection()  # the caller now holds the pool's only connection
            assert [seq.next(session) for _ in range(3)] == [1, 2, 3]
    finally:
        engine.dispose()


def test_a_lost_reservation_connection_is_replaced_and_the_sequence_goes_on(session):
    seq = pooled('seq', session, block_size=1)
    assert seq.next(session) == 1
    seq.reserver._cursor.connection.connection.dbapi_connection.close()
    assert [seq.next(session), seq.next(session)] == [2, 3]


def test_a_new_sequence_starts_at_the_start_given(session):
    with transaction.manager:
        seq = register_sequence('seq', session, impl=SequenceImplementation, start=500, block_size=3)
    assert [seq.next(session) for _ in range(4)] == [500, 501, 502, 503]


def test_the_reservation_connection_goes_when_its_last_sequence_does(session):
    seq = SequenceImplementation('seq', session, block_size=1)
    seq.next(session)
    connection = weakref.ref(seq.reserver._cursor.connection)
    del seq
    gc.collect()
    assert connection() is None


# IManagedSequence, where pooled sequences differ from the others ---------------


# next_many ------------------------------------------------------------------


def test_next_many_returns_a_range_above_every_reserved_block(session):
    seq = pooled('seq', session, block_size=10)
    assert seq.next(session) == 1
    assert seq.next_many(session, 3) == range(11, 14)


def test_next_many_leaves_this_process_s_block_alone(session):
    seq = pooled('seq', session, block_size=10)
    seq.next(session)
    seq.next_many(session, 3)
    assert [seq.next(session) for _ in range(9)] == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert seq.next(session) == 14


def test_next_many_reserves_in_the_row_as_a_block_does(session, db_url):
    seq = pooled('seq', session, block_size=10)
    seq.next_many(session, 25)
    assert stored_values(db_url) == {'seq': 25}


def test_next_many_is_not_given_back_by_a_rollback(session, db_url):
    seq = pooled('seq', session)
    transaction.begin()
    assert seq.next_many(session, 5) == range(1, 6)
    transaction.abort()
    assert stored_values(db_url) == {'seq': 5}


def test_next_many_never_overlaps_another_instance_s_block(session):
    first = pooled('seq', session, block_size=10)
    second = SequenceImplementation('seq', session, block_size=10)
    first.next(session)
    assert second.next_many(session, 2) == range(11, 13)


def test_next_many_past_the_column_top_raises_overflow(session):
    seq = pooled('seq', session)
    seq.restart(session, INT64_MAX - 1)
    with pytest.raises(SequenceOverflow, match='has 2 values left'):
        seq.next_many(session, 3)
    assert seq.next_many(session, 2) == range(INT64_MAX - 1, INT64_MAX + 1)


# current --------------------------------------------------------------------


def test_current_is_the_top_of_the_highest_block_reserved_by_anyone(session):
    first = pooled('seq', session, block_size=10)
    second = SequenceImplementation('seq', session, block_size=10)
    first.next(session)
    assert first.current(session) == 10
    second.next(session)
    assert first.current(session) == 20


# restart --------------------------------------------------------------------


def test_restart_backwards_is_refused_and_keeps_the_block(session):
    seq = pooled('seq', session, block_size=10)
    seq.next(session)
    with pytest.raises(SequenceRestartRefused, match='force'):
        seq.restart(session, 5)
    assert seq.current(session) == 10
    assert seq.next(session) == 2


def test_restart_backwards_with_force_repeats_values_left_in_other_processes_blocks(session):
    seq = pooled('seq', session, block_size=10)
    elsewhere = SequenceImplementation('seq', session, block_size=10)
    assert elsewhere.next(session) == 1
    seq.restart(session, 1, force=True)
    assert seq.next(session) == 1
    assert elsewhere.next(session) == 2  # handed out again by seq's next block


def test_restart_after_a_refusal_still_works_on_the_same_connection(session):
    seq = pooled('seq', session, block_size=5)
    seq.next(session)
    with pytest.raises(SequenceRestartRefused):
        seq.restart(session, 2)
    connection = seq.reserver._cursor
    seq.restart(session, 20)
    assert seq.reserver._cursor is connection
    assert seq.next(session) == 20


# drop -----------------------------------------------------------------------


def test_drop_deletes_the_row_and_says_it_was_there(session, db_url):
    seq = pooled('seq', session)
    assert seq.drop(session) is True
    assert stored_values(db_url) == {}


def test_drop_of_a_missing_row_returns_false(session):
    seq = pooled('seq', session)
    seq.drop(session)
    assert seq.drop(session) is False


def test_drop_storage_deletes_a_row_without_a_registration(session, db_url):
    pooled('seq', session)
    assert SequenceImplementation.drop_storage('seq', session) is True
    assert SequenceImplementation.drop_storage('seq', session) is False
    assert stored_values(db_url) == {}


def test_drop_storage_refuses_an_engine_sharing_one_connection():
    with Session(create_engine('sqlite://')) as session:
        with pytest.raises(SharedConnectionPool):
            SequenceImplementation.drop_storage('seq', session)


# the caller's own write lock (SQLite) -----------------------------------------


CHANGES = {
    'next_many': lambda seq, session: seq.next_many(session, 2),
    'restart': lambda seq, session: seq.restart(session, 10),
    'drop': lambda seq, session: seq.drop(session),
    'drop_storage': lambda seq, session: SequenceImplementation.drop_storage('seq', session),
}


# SQLite only: servers lock rows, see the next test.
@only_on('sqlite')
@pytest.mark.parametrize('method', list(CHANGES))
def test_sqlite_refuses_a_change_while_the_callers_transaction_holds_the_write_lock(written, session, db_url, method):
    with pytest.raises(BlockReservationBlocked, match=rf'{method}\(\) before that transaction writes'):
        CHANGES[method](written, session)


# Servers only: SQLite refuses, see the previous test.
@on_servers
@pytest.mark.parametrize('method', list(CHANGES))
def test_servers_change_the_row_while_the_callers_transaction_has_written(written, session, db_url, method):
    CHANGES[method](written, session)


def test_current_reads_while_the_callers_transaction_has_written(written, session):
    assert written.current(session) is None


# the command line and operations work on pooled names ---------------------------


def test_the_generic_commands_see_and_restart_a_pooled_sequence(session, db_url, capsys):
    seq = pooled('seq', session, block_size=10)
    seq.next(session)
    assert main(['--url', db_url, 'current', 'seq']) == 0
    assert capsys.readouterr().out == '10\n'
    assert main(['--url', db_url, 'restart', 'seq', '100']) == 0
    capsys.readouterr()
    # This process's block still holds 2..10: only its own restart() throws it away.
    assert seq.next(session) == 2
    seq.restart(session, 101)
    assert seq.next(session) == 101


def test_a_pooled_and_a_generic_sequence_are_registered_in_one_transaction(db_url):
    # On SQLite the generic row's insert holds the one write lock; the pooled
    # row is then created in the same transaction rather than waiting for it.
    engine = create_engine(db_url)
    sequences.create(engine, checkfirst=True)
    try:
        with Session(engine) as session, session.begin():
            register_sequence('invoices', session)
            register_sequence('orders', session, impl=SequenceImplementation, block_size=10)
        with Session(engine) as session, session.begin():
            # The pooled value first: on SQLite a reservation cannot wait for this transaction's writes.
            assert (get_sequence('orders').next(session), get_sequence('invoices').next(session)) == (1, 1)
    finally:
        engine.dispose()
