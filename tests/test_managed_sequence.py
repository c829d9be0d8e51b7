"""The generic sequence as an IManagedSequence, where it differs from the others.

What every implementation promises is in tests/guarantees/test_guarantee_managed.py.
"""
import pytest
import transaction

from mortar_rdb import get_session, register_session
from mortar_rdb.interfaces import ISequence
from mortar_rdb.sequence import drop_sequence, get_sequence, register_sequence
from mortar_rdb.sequence.errors import SequenceTableMissing
from mortar_rdb.sequence.generic import SequenceImplementation, sequences


@pytest.fixture
def session(db_url):
    register_session(db_url)
    session = get_session()
    sequences.create(session.bind)
    return session


def registered(session):
    with transaction.manager:
        register_sequence('seq', session)
    return get_sequence('seq')


def take(session, sequence):
    """One value, in a committed transaction of its own."""
    with transaction.manager:
        return sequence.next(session)


def test_next_many_returns_a_contiguous_range_after_the_last_value(session):
    sequence = registered(session)
    take(session, sequence)
    with transaction.manager:
        batch = sequence.next_many(session, 5)
    assert batch == range(2, 7)
    assert take(session, sequence) == 7


def test_next_many_refuses_a_batch_past_the_largest_value(session):
    sequence = registered(session)
    with transaction.manager:
        sequence.restart(session, 2**63 - 3)
    with pytest.raises(OverflowError, match='nothing was handed out'):
        sequence.next_many(session, 5)
    transaction.abort()
    with transaction.manager:
        assert sequence.next_many(session, 3) == range(2**63 - 3, 2**63)


def test_drop_sequence_refuses_a_sequence_that_cannot_drop_its_storage(session):
    from zope.interface import implementer

    @implementer(ISequence)
    class Plain:
        def __init__(self, name, session):
            pass

        def next(self, session):
            return 1

    register_sequence('plain', session, impl=Plain)
    with pytest.raises(TypeError, match='cannot drop its own storage'):
        drop_sequence('plain', session)
    assert get_sequence('plain').next(session) == 1


def test_operations_without_the_table_raise_sequence_table_missing(db_url):
    register_session(db_url)
    session = get_session()
    sequence = SequenceImplementation.for_existing('seq')
    for operation in (
        lambda: sequence.current(session),
        lambda: sequence.next_many(session, 2),
        lambda: sequence.restart(session, 2),
        lambda: drop_sequence('seq', session),
    ):
        with pytest.raises(SequenceTableMissing):
            operation()
        transaction.abort()
