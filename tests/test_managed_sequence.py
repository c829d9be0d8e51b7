"""The generic sequence as an IManagedSequence: batches, inspection, restart, drop, start."""
import pytest
import transaction
from zope.interface.verify import verifyObject

from mortar_rdb import get_session, register_session
from mortar_rdb.interfaces import IManagedSequence, IManagedSequenceFactory, ISequence
from mortar_rdb.sequence import drop_sequence, get_sequence, register_sequence
from mortar_rdb.sequence.errors import (
    InvalidSequenceValue,
    SequenceMissing,
    SequenceNotRegistered,
    SequenceRestartRefused,
    SequenceTableMissing,
)
from mortar_rdb.sequence.generic import SequenceImplementation, sequences


@pytest.fixture
def session(db_url):
    register_session(db_url)
    session = get_session()
    sequences.create(session.bind)
    return session


def registered(session, name='seq', **options):
    with transaction.manager:
        register_sequence(name, session, **options)
    return get_sequence(name)


def take(session, sequence, count=1):
    with transaction.manager:
        return list(sequence.next_many(session, count)) if count != 1 else sequence.next(session)


def test_the_generic_sequence_provides_the_managed_interface(session):
    sequence = registered(session)
    assert verifyObject(IManagedSequence, sequence)
    assert ISequence.providedBy(sequence)
    assert IManagedSequenceFactory.providedBy(SequenceImplementation)


def test_next_many_returns_a_contiguous_range_after_the_last_value(session):
    sequence = registered(session)
    take(session, sequence)
    with transaction.manager:
        batch = sequence.next_many(session, 5)
    assert batch == range(2, 7)
    assert take(session, sequence) == 7


def test_next_many_of_one_is_one_value(session):
    sequence = registered(session)
    with transaction.manager:
        assert sequence.next_many(session, 1) == range(1, 2)


def test_next_many_is_given_back_when_the_transaction_rolls_back(session):
    sequence = registered(session)
    sequence.next_many(session, 10)
    transaction.abort()
    assert take(session, sequence) == 1


@pytest.mark.parametrize('count', [0, -3, 2.0, '3', True, None])
def test_next_many_refuses_a_count_that_is_not_a_positive_int(session, count):
    sequence = registered(session)
    with pytest.raises(InvalidSequenceValue):
        sequence.next_many(session, count)


def test_next_many_refuses_a_batch_past_the_largest_value(session):
    sequence = registered(session)
    with transaction.manager:
        sequence.restart(session, 2**63 - 3)
    with pytest.raises(OverflowError, match='nothing was handed out'):
        sequence.next_many(session, 5)
    transaction.abort()
    with transaction.manager:
        assert sequence.next_many(session, 3) == range(2**63 - 3, 2**63)


def test_current_is_none_before_the_first_value(session):
    sequence = registered(session)
    assert sequence.current(session) is None


def test_current_is_the_last_value_handed_out_and_takes_nothing(session):
    sequence = registered(session)
    take(session, sequence, 3)
    assert sequence.current(session) == 3
    assert sequence.current(session) == 3
    assert take(session, sequence) == 4


def test_current_of_a_sequence_whose_row_was_deleted_raises_sequence_missing(session):
    sequence = registered(session)
    with transaction.manager:
        SequenceImplementation.drop_storage('seq', session)
    with pytest.raises(SequenceMissing):
        sequence.current(session)


def test_start_is_the_first_value(session):
    sequence = registered(session, start=1000)
    assert sequence.current(session) == 999
    assert take(session, sequence) == 1000


def test_start_does_not_move_an_existing_sequence(session):
    sequence = registered(session)
    take(session, sequence, 2)
    registered(session, start=500)
    assert take(session, sequence) == 3


@pytest.mark.parametrize('start', [0, -1, 1.5, '10', 2**63])
def test_start_must_be_a_value_the_sequence_can_hand_out(session, start):
    with pytest.raises(InvalidSequenceValue):
        register_sequence('seq', session, start=start)


def test_restart_makes_value_the_next_one(session):
    sequence = registered(session)
    with transaction.manager:
        sequence.restart(session, 100)
    assert sequence.current(session) == 99
    assert take(session, sequence) == 100


def test_restart_at_the_next_value_changes_nothing(session):
    sequence = registered(session)
    take(session, sequence, 4)
    with transaction.manager:
        sequence.restart(session, 5)
    assert take(session, sequence) == 5


def test_restart_refuses_to_move_backwards(session):
    sequence = registered(session)
    take(session, sequence, 10)
    with pytest.raises(SequenceRestartRefused, match='force=True') as info:
        sequence.restart(session, 10)
    transaction.abort()
    assert (info.value.current, info.value.value) == (10, 10)
    assert take(session, sequence) == 11


def test_restart_moves_backwards_with_force(session):
    sequence = registered(session)
    take(session, sequence, 10)
    with transaction.manager:
        sequence.restart(session, 3, force=True)
    assert take(session, sequence) == 3


def test_restart_is_given_back_when_the_transaction_rolls_back(session):
    sequence = registered(session)
    sequence.restart(session, 50)
    transaction.abort()
    assert take(session, sequence) == 1


@pytest.mark.parametrize('value', [0, -5, 2**63, 7.0])
def test_restart_refuses_a_value_the_sequence_cannot_hand_out(session, value):
    sequence = registered(session)
    with pytest.raises(InvalidSequenceValue):
        sequence.restart(session, value, force=True)


def test_restart_of_a_sequence_whose_row_was_deleted_raises_sequence_missing(session):
    sequence = registered(session)
    with transaction.manager:
        SequenceImplementation.drop_storage('seq', session)
    with pytest.raises(SequenceMissing):
        sequence.restart(session, 5, force=True)


def test_drop_sequence_removes_the_row_and_the_registration(session):
    sequence = registered(session)
    take(session, sequence, 3)
    with transaction.manager:
        assert drop_sequence('seq', session) is True
    with pytest.raises(SequenceNotRegistered):
        get_sequence('seq')
    with pytest.raises(SequenceMissing):
        sequence.next(session)


def test_a_dropped_sequence_registered_again_starts_afresh(session):
    take(session, registered(session), 3)
    with transaction.manager:
        drop_sequence('seq', session)
    assert take(session, registered(session)) == 1


def test_drop_sequence_of_an_unknown_name_says_it_did_not_exist(session):
    with transaction.manager:
        assert drop_sequence('never', session) is False


def test_drop_sequence_of_an_unregistered_name_removes_its_row(session):
    take(session, registered(session, 'other'), 2)
    with transaction.manager:
        SequenceImplementation('stored', session)
    with transaction.manager:
        assert drop_sequence('stored', session) is True
    with pytest.raises(SequenceMissing):
        SequenceImplementation.for_existing('stored').current(session)
    assert get_sequence('other').current(session) == 2


def test_drop_sequence_is_undone_in_the_database_by_a_rollback(session):
    take(session, registered(session), 3)
    drop_sequence('seq', session)
    transaction.abort()
    assert SequenceImplementation.for_existing('seq').current(session) == 3


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
