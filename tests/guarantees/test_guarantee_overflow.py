"""A sequence at the top of its column stops with a clear error: never a wrap,
never a float, never a silent failure."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, update
from sqlalchemy.orm import Session

from mortar_rdb.sequence.errors import NativeSequenceExhausted, SequenceOverflow
from mortar_rdb.sequence.generic import sequences
from tests.guarantees.cases import applies

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def legacy_table(engine: Any) -> None:
    """The table as mortar_rdb 3.0 created it: 20-character names, 32-bit values."""
    sequences.drop(engine)
    old = MetaData()
    Table('sequences', old, Column('name', String(20), primary_key=True), Column('current', Integer))
    old.create_all(engine)


#: Only implementations that store their values in the sequences table.
in_the_table = applies(lambda implementation, backend: implementation.uses_table)
#: Only native sequences, which keep their values out of the table.
native = applies(lambda implementation, backend: not implementation.uses_table)


def sequence_at(setup: Any, engine: Any, value: int) -> Any:
    with Session(engine) as session:
        sequence = setup.implementation.register('seq', session)
        session.execute(update(sequences).where(sequences.c.name == 'seq').values(current=value))
        session.commit()
    return sequence


def stored(engine: Any) -> Any:
    with Session(engine) as session:
        return session.scalar(sequences.select().with_only_columns(sequences.c.current))


@in_the_table
def test_a_64_bit_column_hands_out_its_largest_value_then_refuses(setup):
    engine = setup.engine()
    sequence = sequence_at(setup, engine, INT64_MAX - 1)
    with Session(engine) as session:
        assert sequence.next(session) == INT64_MAX
        with pytest.raises(SequenceOverflow, match='start a new sequence'):
            sequence.next(session)
        session.commit()
    assert stored(engine) == INT64_MAX
    assert isinstance(stored(engine), int)


@in_the_table
def test_a_full_64_bit_sequence_refuses_and_leaves_the_transaction_usable(setup):
    engine = setup.engine()
    sequence = sequence_at(setup, engine, INT64_MAX)
    with Session(engine) as session:
        with pytest.raises(SequenceOverflow) as caught:
            sequence.next(session)
        other = setup.implementation.register('other', session)
        assert other.next(session) == 1
        session.commit()
    assert isinstance(caught.value, OverflowError)
    assert str(INT64_MAX) in str(caught.value)


# SQLite stores every integer in 64 bits: see the next test.
@applies(lambda implementation, backend: implementation.uses_table and backend != 'sqlite')
def test_a_legacy_32_bit_column_refuses_to_go_past_2_to_the_31_minus_1(setup):
    engine = setup.engine()
    legacy_table(engine)
    sequence = sequence_at(setup, engine, INT32_MAX - 1)
    with Session(engine) as session:
        assert sequence.next(session) == INT32_MAX
        with pytest.raises(SequenceOverflow, match='upgrade-table'):
            sequence.next(session)
        session.commit()
    assert stored(engine) == INT32_MAX


# Only SQLite ignores the declared width of an integer column.
@applies(lambda implementation, backend: implementation.uses_table and backend == 'sqlite')
def test_a_legacy_32_bit_column_on_sqlite_goes_on_past_2_to_the_31(setup):
    engine = setup.engine()
    legacy_table(engine)
    sequence = sequence_at(setup, engine, INT32_MAX - 1)
    with Session(engine) as session:
        assert [sequence.next(session) for _ in range(2)] == [INT32_MAX, INT32_MAX + 1]
        session.commit()
    if setup.implementation.gapless:
        assert stored(engine) == INT32_MAX + 1
    else:  # the top of the block reserved
        assert stored(engine) == INT32_MAX - 1 + setup.implementation.options['block_size']


#: The largest value of a native sequence: BIGINT's on PostgreSQL, one less on MariaDB.
NATIVE_MAX = {'postgresql': INT64_MAX, 'mysql': INT64_MAX - 1}


def native_below_its_largest(setup: Any) -> tuple[Any, Any, int]:
    """The engine, a native sequence whose next value is its largest, and that value."""
    engine = setup.engine()
    largest = NATIVE_MAX[setup.backend]
    with Session(engine) as session:
        sequence = setup.implementation.register('seq', session)
        sequence.restart(session, largest)
    return engine, sequence, largest


@native
def test_a_native_sequence_hands_out_its_largest_value_then_refuses(setup):
    engine, sequence, largest = native_below_its_largest(setup)
    with Session(engine) as session:
        assert sequence.next(session) == largest
        with pytest.raises(NativeSequenceExhausted, match='start a new sequence'):
            sequence.next(session)
        session.commit()
    with Session(engine) as session:
        assert sequence.current(session) == largest


@native
def test_an_exhausted_native_sequence_keeps_refusing_and_takes_nothing(setup):
    engine, sequence, largest = native_below_its_largest(setup)
    with Session(engine) as session:
        assert sequence.next(session) == largest
    for _ in range(2):
        with Session(engine) as session:
            with pytest.raises(NativeSequenceExhausted) as caught:
                sequence.next(session)
    assert isinstance(caught.value, OverflowError)
    with Session(engine) as session:
        assert sequence.current(session) == largest
