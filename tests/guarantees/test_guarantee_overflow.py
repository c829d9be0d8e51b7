"""A sequence at the top of its column stops with a clear error: never a wrap,
never a float, never a silent failure."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, update
from sqlalchemy.orm import Session

from mortar_rdb.sequence.errors import NativeSequenceExhausted, SequenceOverflow
from mortar_rdb.sequence.generic import sequences

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1


def legacy_table(engine: Any) -> None:
    """The table as mortar_rdb 3.0 created it: 20-character names, 32-bit values."""
    sequences.drop(engine)
    old = MetaData()
    Table('sequences', old, Column('name', String(20), primary_key=True), Column('current', Integer))
    old.create_all(engine)


def needs_the_table(setup: Any) -> None:
    if not setup.implementation.uses_table:
        pytest.skip(f'{setup.implementation.id} does not store its values in the sequences table')


def sequence_at(setup: Any, engine: Any, value: int) -> Any:
    needs_the_table(setup)
    with Session(engine) as session:
        sequence = setup.implementation.register('seq', session)
        session.execute(update(sequences).where(sequences.c.name == 'seq').values(current=value))
        session.commit()
    return sequence


def stored(engine: Any) -> Any:
    with Session(engine) as session:
        return session.scalar(sequences.select().with_only_columns(sequences.c.current))


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


def test_a_legacy_32_bit_column_refuses_to_go_past_2_to_the_31_minus_1(setup):
    if setup.backend == 'sqlite':
        pytest.skip('SQLite stores every integer in 64 bits: see the next test')
    needs_the_table(setup)
    engine = setup.engine()
    legacy_table(engine)
    sequence = sequence_at(setup, engine, INT32_MAX - 1)
    with Session(engine) as session:
        assert sequence.next(session) == INT32_MAX
        with pytest.raises(SequenceOverflow, match='upgrade-table'):
            sequence.next(session)
        session.commit()
    assert stored(engine) == INT32_MAX


def test_a_legacy_32_bit_column_on_sqlite_goes_on_past_2_to_the_31(setup):
    if setup.backend != 'sqlite':
        pytest.skip('only SQLite ignores the declared width of an integer column')
    needs_the_table(setup)
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


@pytest.fixture
def native(setup: Any) -> Any:
    if setup.implementation.uses_table:
        pytest.skip(f'{setup.implementation.id} keeps its values in the sequences table: see the tests above')
    return setup


def native_below_its_largest(setup: Any) -> tuple[Any, Any, int]:
    """The engine, a native sequence whose next value is its largest, and that value."""
    engine = setup.engine()
    largest = NATIVE_MAX[setup.backend]
    with Session(engine) as session:
        sequence = setup.implementation.register('seq', session)
        sequence.restart(session, largest)
    return engine, sequence, largest


def test_a_native_sequence_hands_out_its_largest_value_then_refuses(native):
    engine, sequence, largest = native_below_its_largest(native)
    with Session(engine) as session:
        assert sequence.next(session) == largest
        with pytest.raises(NativeSequenceExhausted, match='start a new sequence'):
            sequence.next(session)
        session.commit()
    with Session(engine) as session:
        assert sequence.current(session) == largest


def test_an_exhausted_native_sequence_keeps_refusing_and_takes_nothing(native):
    engine, sequence, largest = native_below_its_largest(native)
    with Session(engine) as session:
        assert sequence.next(session) == largest
    for _ in range(2):
        with Session(engine) as session:
            with pytest.raises(NativeSequenceExhausted) as caught:
                sequence.next(session)
    assert isinstance(caught.value, OverflowError)
    with Session(engine) as session:
        assert sequence.current(session) == largest
