"""What every managed sequence promises, whatever its implementation:
next_many, current, restart, drop and start behave alike, refuse the same
bad input, and never hand a value out twice without ``force``.

Where implementations differ (a rollback undoes a change of the generic
sequence; pooled and native ones change at once) the difference is a
property in tests/implementations.py and the test for each side says so.
Behaviour of one implementation alone (pooled blocks, native batches that
interleave with other connections) is in that implementation's own tests.
"""
from __future__ import annotations

from typing import Any

import pytest
import transaction
from zope.interface.verify import verifyObject

from mortar_rdb import get_session, register_session
from mortar_rdb.interfaces import IManagedSequence, IManagedSequenceFactory, ISequence
from mortar_rdb.sequence import drop_sequence, get_sequence
from mortar_rdb.sequence.errors import (
    InvalidSequenceValue,
    SequenceMissing,
    SequenceNotRegistered,
    SequenceRestartRefused,
)
from tests.guarantees.cases import applies

NOT_POSITIVE_INTS = [0, -3, 1.5, 2.0, '3', True, None]


@pytest.fixture
def session(setup: Any) -> Any:
    register_session(engine=setup.engine())
    return get_session()


#: Only implementations whose changes commit at once, whatever the caller's transaction does.
at_once = applies(lambda implementation, backend: implementation.changes_at_once)
#: Only implementations whose changes are part of the caller's transaction.
in_transaction = applies(lambda implementation, backend: not implementation.changes_at_once)
gapless = applies(lambda implementation, backend: implementation.gapless)
not_gapless = applies(lambda implementation, backend: not implementation.gapless)


def registered(setup: Any, session: Any, name: str = 'seq', **options: Any) -> Any:
    with transaction.manager:
        setup.implementation.register(name, session, **options)
    return get_sequence(name)


def top_of_block(setup: Any, value: int) -> int:
    """The highest value reserved when ``value`` has been handed out: the
    top of its block for a pooled sequence, ``value`` itself for the others."""
    block = setup.implementation.options.get('block_size', 1)
    return -(-value // block) * block


def take(session: Any, sequence: Any, count: int = 1) -> Any:
    """``count`` values, each in a committed transaction of its own; one value if ``count`` is 1."""
    values = []
    for _ in range(count):
        with transaction.manager:
            values.append(sequence.next(session))
    return values if count != 1 else values[0]


def test_every_implementation_provides_the_managed_interface(setup, session):
    sequence = registered(setup, session)
    assert verifyObject(IManagedSequence, sequence)
    assert ISequence.providedBy(sequence)
    assert IManagedSequenceFactory.providedBy(setup.implementation.impl)


# next_many ------------------------------------------------------------------


def test_next_many_hands_out_count_rising_values_that_no_next_hands_out_again(setup, session):
    sequence = registered(setup, session)
    before = take(session, sequence, 3)
    with transaction.manager:
        batch = list(sequence.next_many(session, 5))
    after = take(session, sequence, 25)  # past a pooled block of 10
    assert len(batch) == 5
    assert batch == sorted(batch)
    everything = before + batch + after
    assert len(everything) == len(set(everything))


def test_next_many_of_one_is_one_value(setup, session):
    sequence = registered(setup, session)
    with transaction.manager:
        assert list(sequence.next_many(session, 1)) == [1]


@pytest.mark.parametrize('count', NOT_POSITIVE_INTS, ids=repr)
def test_next_many_refuses_a_count_that_is_not_a_positive_int(setup, session, count):
    sequence = registered(setup, session)
    with pytest.raises(InvalidSequenceValue, match='number of values'):
        sequence.next_many(session, count)


def test_next_many_refuses_more_values_than_64_bits_hold(setup, session):
    sequence = registered(setup, session)
    with pytest.raises(InvalidSequenceValue, match='at most'):
        sequence.next_many(session, 2**63)


@gapless
def test_a_rolled_back_next_many_gives_its_values_back_where_gapless(setup, session):
    sequence = registered(setup, session)
    sequence.next_many(session, 10)
    transaction.abort()
    assert take(session, sequence) == 1


@not_gapless
def test_a_rolled_back_next_many_uses_its_values_up_where_not_gapless(setup, session):
    sequence = registered(setup, session)
    sequence.next_many(session, 10)
    transaction.abort()
    assert take(session, sequence) == 11


# current --------------------------------------------------------------------


def test_current_is_none_before_the_first_value(setup, session):
    assert registered(setup, session).current(session) is None


def test_current_before_the_first_value_is_start_minus_one(setup, session):
    sequence = registered(setup, session, start=1000)
    assert sequence.current(session) == 999
    assert take(session, sequence) == 1000


def test_current_is_the_highest_value_reserved_and_takes_nothing(setup, session):
    sequence = registered(setup, session)
    take(session, sequence, 3)
    assert sequence.current(session) == top_of_block(setup, 3)
    assert sequence.current(session) == top_of_block(setup, 3)
    assert take(session, sequence) == 4


# start ----------------------------------------------------------------------


def test_start_does_not_move_an_existing_sequence(setup, session):
    take(session, registered(setup, session), 2)
    assert take(session, registered(setup, session, start=500)) == top_of_block(setup, 2) + 1


@pytest.mark.parametrize('start', [1.5, '10', True, 2**63], ids=repr)
def test_start_must_be_an_int_below_2_to_the_63(setup, session, start):
    with pytest.raises(InvalidSequenceValue):
        setup.implementation.register('seq', session, start=start)


# Native sequences may start anywhere; their own tests say so.
@applies(lambda implementation, backend: implementation.uses_table)
@pytest.mark.parametrize('start', [0, -1], ids=repr)
def test_start_below_1_is_refused_by_the_sequences_table(setup, session, start):
    with pytest.raises(InvalidSequenceValue):
        setup.implementation.register('seq', session, start=start)


# restart --------------------------------------------------------------------


def test_restart_makes_value_the_next_one(setup, session):
    sequence = registered(setup, session)
    take(session, sequence)
    with transaction.manager:
        sequence.restart(session, 100)
    assert sequence.current(session) == 99
    assert take(session, sequence, 2) == [100, 101]


def test_restart_to_current_is_refused_and_just_above_it_is_not(setup, session):
    sequence = registered(setup, session)
    take(session, sequence, 4)
    current = sequence.current(session)
    with pytest.raises(SequenceRestartRefused, match='force=True') as info:
        sequence.restart(session, current)
    transaction.abort()
    assert (info.value.current, info.value.value) == (current, current)
    with transaction.manager:
        sequence.restart(session, current + 1)
    assert take(session, sequence) == current + 1


def test_restart_backwards_is_refused_and_changes_nothing(setup, session):
    sequence = registered(setup, session)
    take(session, sequence, 10)
    with pytest.raises(SequenceRestartRefused, match='force=True'):
        sequence.restart(session, 3)
    transaction.abort()
    assert take(session, sequence) == 11


def test_restart_backwards_with_force_makes_value_the_next_one(setup, session):
    sequence = registered(setup, session)
    take(session, sequence, 10)
    with transaction.manager:
        sequence.restart(session, 3, force=True)
    assert take(session, sequence) == 3


@pytest.mark.parametrize('value', [0, -5, True, 7.0, '5', 2**63], ids=repr)
def test_restart_refuses_a_value_the_sequence_cannot_hand_out(setup, session, value):
    sequence = registered(setup, session)
    with pytest.raises(InvalidSequenceValue, match='restart value'):
        sequence.restart(session, value, force=True)


@in_transaction
def test_restart_is_undone_by_a_rollback(setup, session):
    sequence = registered(setup, session)
    sequence.restart(session, 50)
    transaction.abort()
    assert take(session, sequence) == 1


@at_once
def test_restart_takes_effect_at_once_and_a_rollback_does_not_undo_it(setup, session):
    sequence = registered(setup, session)
    transaction.begin()
    sequence.restart(session, 50)
    transaction.abort()
    assert take(session, sequence) == 50


# drop -----------------------------------------------------------------------


def test_drop_sequence_removes_the_sequence_and_its_registration(setup, session):
    sequence = registered(setup, session)
    take(session, sequence, 3)
    with transaction.manager:
        assert drop_sequence('seq', session) is True
    with pytest.raises(SequenceNotRegistered):
        get_sequence('seq')


@pytest.mark.parametrize(
    'operation',
    [
        lambda sequence, session: sequence.next(session),
        lambda sequence, session: sequence.next_many(session, 2),
        lambda sequence, session: sequence.current(session),
        lambda sequence, session: sequence.restart(session, 5),
        lambda sequence, session: sequence.restart(session, 5, force=True),
    ],
    ids=['next', 'next_many', 'current', 'restart', 'restart-forced'],
)
def test_a_dropped_sequence_held_by_its_caller_raises_sequence_missing_and_starts_nothing(setup, session, operation):
    sequence = registered(setup, session)
    take(session, sequence, 3)
    with transaction.manager:
        drop_sequence('seq', session)
    with pytest.raises(SequenceMissing), transaction.manager:
        operation(sequence, session)
    with transaction.manager:
        assert setup.implementation.impl.drop_storage('seq', session) is False


def test_a_dropped_sequence_registered_again_starts_afresh(setup, session):
    take(session, registered(setup, session), 3)
    with transaction.manager:
        drop_sequence('seq', session)
    assert take(session, registered(setup, session)) == 1


def test_drop_sequence_of_an_unknown_name_says_it_did_not_exist(setup, session):
    with transaction.manager:
        assert drop_sequence('never', session, impl=setup.implementation.impl) is False


def test_drop_sequence_of_an_unregistered_name_drops_what_is_stored_and_nothing_else(setup, session):
    other = registered(setup, session, 'other')
    take(session, other, 2)
    with transaction.manager:
        setup.implementation.create('stored', session)  # stored, but not registered
    with transaction.manager:
        assert drop_sequence('stored', session, impl=setup.implementation.impl) is True
    with transaction.manager:
        assert setup.implementation.impl.drop_storage('stored', session) is False
    assert other.current(session) == top_of_block(setup, 2)


@in_transaction
def test_drop_sequence_is_undone_by_a_rollback(setup, session):
    take(session, registered(setup, session), 3)
    drop_sequence('seq', session)
    transaction.abort()
    with transaction.manager:
        assert setup.implementation.create('seq', session).current(session) == 3


@at_once
def test_drop_sequence_takes_effect_at_once_and_a_rollback_does_not_undo_it(setup, session):
    take(session, registered(setup, session), 3)
    transaction.begin()
    drop_sequence('seq', session)
    transaction.abort()
    with transaction.manager:
        assert setup.implementation.impl.drop_storage('seq', session) is False
