"""sequence_value(): a column numbered from a registered sequence when its row is inserted."""
from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    create_engine,
    event,
    insert,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from mortar_rdb.sequence import generic, get_sequence, native, pooled, register_sequence, sequence_value
from mortar_rdb.sequence.errors import (
    ColumnNotNumbered,
    ColumnSequenceNotRegistered,
    ColumnTooNarrow,
    SequenceConflict,
    SequenceNotRegistered,
)
from mortar_rdb.sequence.generic import sequences

from .databases import async_url, on_servers


class Base(DeclarativeBase):
    pass


class Invoice(Base):
    __tablename__ = 'invoices'
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, default=sequence_value('invoice_numbers'), unique=True)
    customer: Mapped[str] = mapped_column(String(50))


invoices = Invoice.__table__

IMPLEMENTATIONS = {
    'generic': generic.SequenceImplementation,
    'pooled': pooled.SequenceImplementation,
    'native': native.SequenceImplementation,
}


@pytest.fixture
def engine(db_url):
    engine = create_engine(db_url)
    sequences.create(engine)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def registered(engine, impl=generic.SequenceImplementation, name='invoice_numbers'):
    with Session(engine) as session:
        register_sequence(name, session, impl=impl)
        session.commit()


def numbers(engine):
    with engine.connect() as connection:
        return connection.execute(select(invoices.c.number).order_by(invoices.c.number)).scalars().all()


def count_increments(engine):
    """A list that collects the sequence's UPDATE statements run on ``engine``."""
    seen = []

    def collect(connection, cursor, statement, *rest):
        if 'UPDATE sequences' in statement:
            seen.append(statement)

    event.listen(engine, 'before_cursor_execute', collect)
    return seen


def test_flush_puts_the_number_on_the_object(engine):
    registered(engine)
    with Session(engine) as session:
        invoice = Invoice(customer='Ada')
        session.add(invoice)
        session.flush()
        assert invoice.number == 1
        session.commit()
    assert numbers(engine) == [1]


def numbers_two_rows(engine, impl):
    registered(engine, IMPLEMENTATIONS[impl])
    with Session(engine) as session:
        session.add_all([Invoice(customer='Ada'), Invoice(customer='Bob')])
        session.commit()
    assert numbers(engine) == [1, 2]


@pytest.mark.parametrize('impl', ['generic', 'pooled'])
def test_table_sequences_number_rows(engine, impl):
    numbers_two_rows(engine, impl)


@on_servers
def test_native_sequences_number_rows(engine):
    numbers_two_rows(engine, 'native')


def test_an_explicit_value_is_kept(engine):
    registered(engine)
    with Session(engine) as session:
        session.add(Invoice(customer='Ada', number=500))
        session.commit()
    assert numbers(engine) == [500]
    with Session(engine) as session:
        assert get_sequence('invoice_numbers').current(session) is None


def test_rollback_gives_the_number_back(engine):
    registered(engine)
    with Session(engine) as session:
        session.add(Invoice(customer='Ada'))
        session.flush()
        session.rollback()
    with Session(engine) as session:
        invoice = Invoice(customer='Bob')
        session.add(invoice)
        session.commit()
        assert invoice.number == 1


def test_the_number_is_taken_at_the_insert_not_before(engine):
    registered(engine)
    with Session(engine) as session:
        session.add(Invoice(customer='Ada'))
        assert get_sequence('invoice_numbers').current(session) is None
        session.flush()
        assert get_sequence('invoice_numbers').current(session) == 1


def test_a_flush_of_several_objects_takes_their_numbers_with_one_statement(engine):
    registered(engine)
    increments = count_increments(engine)
    with Session(engine) as session:
        batch = [Invoice(customer=f'c{index}') for index in range(5)]
        session.add_all(batch)
        session.commit()
        assert sorted(invoice.number for invoice in batch) == [1, 2, 3, 4, 5]
    assert numbers(engine) == [1, 2, 3, 4, 5]
    assert len(increments) == 1


def test_an_orm_bulk_insert_takes_its_numbers_with_one_statement(engine):
    registered(engine)
    increments = count_increments(engine)
    with Session(engine) as session:
        session.execute(insert(Invoice), [{'customer': f'c{index}'} for index in range(4)])
        session.commit()
    assert numbers(engine) == [1, 2, 3, 4]
    assert len(increments) == 1


def test_a_core_executemany_takes_its_numbers_with_one_statement(engine):
    registered(engine)
    increments = count_increments(engine)
    with engine.begin() as connection:
        connection.execute(invoices.insert(), [{'customer': 'Ada'}, {'customer': 'Bob'}, {'customer': 'Cy'}])
    assert numbers(engine) == [1, 2, 3]
    assert len(increments) == 1


def test_a_core_insert_outside_a_session_runs_in_the_connections_transaction(engine):
    registered(engine)
    with engine.connect() as connection:
        result = connection.execute(invoices.insert().values(customer='Ada'))
        assert result.last_inserted_params()['number'] == 1
        connection.rollback()
        with connection.begin():
            result = connection.execute(invoices.insert().values(customer='Bob'))
            assert result.last_inserted_params()['number'] == 1
        assert connection.in_transaction() is False
    assert numbers(engine) == [1]


SHORT_LOCK_WAIT = {
    'sqlite': {'timeout': 0.2},
    'postgresql': {'options': '-c lock_timeout=200'},
    'mysql': {'init_command': 'SET SESSION innodb_lock_wait_timeout = 1'},
}


def test_a_conflict_at_the_insert_stays_retryable(engine, db_url):
    registered(engine)
    impatient = create_engine(db_url, connect_args=SHORT_LOCK_WAIT[engine.dialect.name])
    with Session(engine) as holder:
        get_sequence('invoice_numbers').next(holder)
        with Session(impatient) as session:
            session.add(Invoice(customer='Ada'))
            with pytest.raises(SequenceConflict):
                session.flush()
    impatient.dispose()


def test_an_unregistered_sequence_fails_the_flush(engine):
    with Session(engine) as session:
        session.add(Invoice(customer='Ada'))
        with pytest.raises(ColumnSequenceNotRegistered) as raised:
            session.flush()
    assert str(raised.value) == (
        "Column invoices.number takes its numbers from the sequence 'invoice_numbers', which is not registered, "
        "so nothing was inserted: call register_sequence('invoice_numbers', session) during configuration, before "
        'inserting rows.'
    )


def test_an_unregistered_sequence_is_a_component_lookup_error(engine):
    with Session(engine) as session:
        session.add(Invoice(customer='Ada'))
        with pytest.raises(SequenceNotRegistered):
            session.flush()


def test_a_column_that_cannot_hold_integers_is_refused_when_created(engine):
    table = Table('labels', MetaData(), Column('label', String(20), default=sequence_value('invoices')))
    with pytest.raises(ColumnNotNumbered) as raised:
        table.create(engine)
    assert str(raised.value) == (
        "Column labels.label is String(length=20), which cannot hold the integers of the sequence 'invoices': "
        'declare it as BigInteger.'
    )


@on_servers
def test_a_value_too_large_for_the_column_fails_before_the_insert(engine):
    table = Table(
        'small',
        MetaData(),
        Column('id', Integer, primary_key=True),
        Column('n', SmallInteger, default=sequence_value('invoice_numbers')),
    )
    table.create(engine)
    registered(engine)
    with Session(engine) as session:
        get_sequence('invoice_numbers').restart(session, 2**15)
        session.commit()
    with Session(engine) as session:
        with pytest.raises(ColumnTooNarrow) as raised:
            session.execute(table.insert())
    assert str(raised.value) == (
        "The sequence 'invoice_numbers' handed out 32768 for column small.n, but that column is SmallInteger(), which "
        'holds at most 32767; the row was not inserted and rolling the transaction back gives it back. '
        'Widen the column to BigInteger.'
    )


def test_a_session_with_several_binds_takes_the_number_from_the_sequences_bind(tmp_path):
    sequence_engine = create_engine(f'sqlite:///{tmp_path}/sequences.db')
    app_engine = create_engine(f'sqlite:///{tmp_path}/app.db')
    sequences.create(sequence_engine)
    Base.metadata.create_all(app_engine)
    registered(sequence_engine)
    with Session(binds={sequences: sequence_engine, Invoice: app_engine}) as session:
        session.add(Invoice(customer='Ada'))
        session.flush()
        session.rollback()
    with Session(binds={sequences: sequence_engine, Invoice: app_engine}) as session:
        invoice = Invoice(customer='Bob')
        session.add(invoice)
        session.commit()
        assert invoice.number == 1
    assert numbers(app_engine) == [1]
    with sequence_engine.connect() as connection:
        assert connection.execute(select(sequences.c.current)).scalar_one() == 1
    sequence_engine.dispose()
    app_engine.dispose()


@pytest.mark.parametrize('impl', ['generic', 'pooled'])
def test_an_async_session_numbers_rows_at_flush(engine, db_url, impl):
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    registered(engine, IMPLEMENTATIONS[impl])

    async def main():
        async_engine = create_async_engine(async_url(db_url))
        try:
            async with AsyncSession(async_engine) as session:
                invoice = Invoice(customer='Ada')
                session.add(invoice)
                await session.flush()
                assert invoice.number == 1
                await session.rollback()

            async def insert_one(customer):
                async with AsyncSession(async_engine) as session, session.begin():
                    session.add(Invoice(customer=customer))

            await asyncio.gather(*(insert_one(f'c{index}') for index in range(5)))
        finally:
            await async_engine.dispose()

    asyncio.run(main())
    committed = numbers(engine)
    assert len(set(committed)) == 5
    if impl == 'generic':
        assert committed == [1, 2, 3, 4, 5]
