"""Pooled sequences as IManagedSequence, where they differ from the others, on every configured database.

What every implementation promises is in tests/guarantees/test_guarantee_managed.py.

Everything that writes the row (next_many, restart, drop) is committed at
once on the reservation connection, so most tests need no transaction.
"""
import pytest
import transaction
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from mortar_rdb.sequence.__main__ import main
from mortar_rdb.sequence.errors import (
    BlockReservationBlocked,
    SequenceOverflow,
    SequenceRestartRefused,
    SharedConnectionPool,
)
from mortar_rdb.sequence.pooled import SequenceImplementation
from mortar_rdb.sequence.table import INT64_MAX

from .helpers import caller_has_written, pooled, pooled_session, stored_values


@pytest.fixture
def session(db_url):
    """A transactional session on a database with the sequences table."""
    return pooled_session(db_url)


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
    with pytest.raises(SequenceOverflow):
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
    connection = seq._reserver._cursor
    seq.restart(session, 20)
    assert seq._reserver._cursor is connection
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


@pytest.fixture
def written(session):
    """A pooled sequence, and a caller's transaction that has written: on SQLite it holds the write lock."""
    with caller_has_written(session) as seq:
        yield seq


CHANGES = {
    'next_many': lambda seq, session: seq.next_many(session, 2),
    'restart': lambda seq, session: seq.restart(session, 10),
    'drop': lambda seq, session: seq.drop(session),
    'drop_storage': lambda seq, session: SequenceImplementation.drop_storage('seq', session),
}


@pytest.mark.parametrize('method', list(CHANGES))
def test_sqlite_refuses_a_change_while_the_callers_transaction_holds_the_write_lock(written, session, db_url, method):
    if not db_url.startswith('sqlite'):
        pytest.skip('SQLite only: servers lock rows, see the next test')
    with pytest.raises(BlockReservationBlocked, match=rf'{method}\(\) before that transaction writes'):
        CHANGES[method](written, session)


@pytest.mark.parametrize('method', list(CHANGES))
def test_servers_change_the_row_while_the_callers_transaction_has_written(written, session, db_url, method):
    if db_url.startswith('sqlite'):
        pytest.skip('servers only: SQLite refuses, see the previous test')
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
