"""The async face (mortar_rdb.sequence.asyncio): the sync API's behaviour, awaited.

Each test runs for every implementation on every configured database and
async driver where it applies (conftest.py's ``async_setup``), inside
``asyncio.run``.
"""
from __future__ import annotations

import asyncio
import contextlib

import pytest
from sqlalchemy import create_engine, insert, make_url, text, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_scoped_session,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from zope.interface.interfaces import ComponentLookupError

from mortar_rdb.sequence import drop_sequence as sync_drop_sequence
from mortar_rdb.sequence import get_sequence
from mortar_rdb.sequence import register_sequence as sync_register_sequence
from mortar_rdb.sequence.asyncio import (
    drop_sequence,
    get_async_sequence,
    register_sequence,
)
from mortar_rdb.sequence.errors import (
    InvalidSequenceName,
    NativeSequenceExhausted,
    SequenceConflict,
    SequenceConnectionLost,
    SequenceOverflow,
    SequenceTableMissing,
)
from mortar_rdb.sequence.generic import sequences
from tests.databases import CONNECTION_ID, KILL, only_on
from tests.guarantees.cases import applies
from tests.implementations import GENERIC, NATIVE, POOLED
from tests.workers import taken

INT64_MAX = 2**63 - 1

gapless = applies(lambda implementation, backend: implementation.gapless)
in_the_table = applies(lambda implementation, backend: implementation.uses_table)
unique_only = applies(lambda implementation, backend: not implementation.gapless)
pooled_only = applies(lambda implementation, backend: implementation is POOLED)
native_only = applies(lambda implementation, backend: implementation is NATIVE)
generic_on_servers = applies(lambda implementation, backend: implementation is GENERIC and backend != 'sqlite')


async def committed_values(engine: AsyncEngine, name: str = 'seq') -> list[int]:
    async with AsyncSession(engine) as session:
        return list(
            await session.scalars(taken.select().with_only_columns(taken.c.value).where(taken.c.name == name))
        )


# Taking values -------------------------------------------------------------------


def test_values_are_taken_with_await_inside_the_transaction(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            return [await sequence.next(session) for _ in range(3)]

    assert async_setup.run(scenario) == [1, 2, 3]


def test_the_async_face_uses_the_registration_of_the_sync_api(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await async_setup.register('seq', session)
        face = get_async_sequence('seq')
        async with AsyncSession(engine) as session, session.begin():
            await face.next(session)
        return face

    face = async_setup.run(scenario)
    assert face.sync_sequence is get_sequence('seq')
    assert face.name == 'seq'


def test_a_sequence_registered_with_the_sync_api_is_awaited_by_name(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            impl = async_setup.implementation.impl
            await session.run_sync(lambda sync: sync_register_sequence('seq', sync, impl=impl))
        async with AsyncSession(engine) as session, session.begin():
            return await get_async_sequence('seq').next(session)

    assert async_setup.run(scenario) == 1


def test_an_async_scoped_session_is_accepted(async_setup):
    async def scenario(engine):
        scoped = async_scoped_session(async_sessionmaker(engine), scopefunc=asyncio.current_task)
        try:
            async with scoped.begin():
                sequence = await async_setup.register('seq', scoped)
            async with scoped.begin():
                return await sequence.next(scoped)
        finally:
            await scoped.remove()

    assert async_setup.run(scenario) == 1


@gapless
def test_rollback_gives_the_value_back(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        async with AsyncSession(engine) as session:
            async with session.begin():
                assert await sequence.next(session) == 1
                await session.rollback()
            async with session.begin():
                return await sequence.next(session)

    assert async_setup.run(scenario) == 1


@gapless
def test_concurrent_tasks_commit_every_value_once_and_in_order(async_setup):
    async def take(engine, sequence):
        async with AsyncSession(engine) as session, session.begin():
            value = await sequence.next(session)
            await session.execute(insert(taken).values(name='seq', value=value))

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        await asyncio.gather(*(take(engine, sequence) for _ in range(20)))
        return sorted(await committed_values(engine))

    assert async_setup.run(scenario) == list(range(1, 21))


@unique_only
def test_tasks_in_one_loop_never_get_the_same_value(async_setup):
    async def take(engine, sequence):
        async with AsyncSession(engine) as session, session.begin():
            return [await sequence.next(session) for _ in range(7)]

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            options = {'block_size': 3} if async_setup.implementation is POOLED else {}
            sequence = await async_setup.register('seq', session, **options)
        taken_by_task = await asyncio.gather(*(take(engine, sequence) for _ in range(30)))
        return [value for values in taken_by_task for value in values]

    values = async_setup.run(scenario)
    assert len(set(values)) == len(values) == 210


@pooled_only
def test_pooled_values_need_no_session(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        return [await sequence.next() for _ in range(3)]

    assert async_setup.run(scenario) == [1, 2, 3]


@pooled_only
def test_a_sequence_goes_on_reserving_in_a_new_event_loop(async_setup):
    """The reserving connection of the first loop is closed with it; the second opens its own."""

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session, block_size=2)
        return [await sequence.next() for _ in range(3)]

    first = async_setup.run(scenario)

    async def again(engine):
        sequence = get_async_sequence('seq')
        return [await sequence.next() for _ in range(3)]

    assert first == [1, 2, 3]
    assert async_setup.run(again) == [4, 5, 6]


@pooled_only
def test_a_pooled_and_a_generic_sequence_are_registered_in_one_transaction(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await register_sequence('invoices', session)
            orders = await async_setup.register('orders', session)
        async with AsyncSession(engine) as session, session.begin():
            return await orders.next(session), await get_async_sequence('invoices').next(session)

    assert async_setup.run(scenario) == (1, 1)


@pooled_only
def test_a_pooled_sequence_reserves_on_the_async_engine_it_is_given(async_setup):
    async def scenario(engine):
        reserving = async_setup.engine()
        try:
            async with AsyncSession(engine) as session, session.begin():
                sequence = await async_setup.register('seq', session, engine=reserving)
            values = [await sequence.next() for _ in range(3)]
            async with AsyncSession(engine) as session:
                dropped = await drop_sequence('seq', session)
            return values, sequence.sync_sequence._engine is reserving.sync_engine, dropped
        finally:
            await reserving.dispose()

    assert async_setup.run(scenario) == ([1, 2, 3], True, True)


# The managed operations -----------------------------------------------------------


def test_next_many_takes_consecutive_values(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            return list(await sequence.next_many(session, 3))

    assert async_setup.run(scenario) == [1, 2, 3]


def test_current_says_the_last_value_handed_out(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session, start=5)
        async with AsyncSession(engine) as session, session.begin():
            before = await sequence.current(session)
            await sequence.next(session)
        async with AsyncSession(engine) as session, session.begin():
            return before, await sequence.current(session)

    before, after = async_setup.run(scenario)
    assert before == 4
    assert after == (5 if async_setup.implementation is not POOLED else 4 + POOLED.options['block_size'])


def test_restart_makes_the_value_the_next_one(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            await sequence.restart(session, 100)
        async with AsyncSession(engine) as session, session.begin():
            return await sequence.next(session)

    assert async_setup.run(scenario) == 100


def test_drop_removes_the_storage_and_the_registration(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await async_setup.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            existed = await drop_sequence('seq', session, impl=async_setup.implementation.impl)
        async with AsyncSession(engine) as session, session.begin():
            again = await drop_sequence('seq', session, impl=async_setup.implementation.impl)
        return existed, again

    assert async_setup.run(scenario) == (True, False)
    with pytest.raises(ComponentLookupError):
        get_async_sequence('seq')


def test_a_dropped_sequence_registered_again_starts_afresh(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            await sequence.next(session)
        async with AsyncSession(engine) as session, session.begin():
            assert await sequence.drop(session)
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            return await sequence.next(session)

    assert async_setup.run(scenario) == 1


# Errors arrive as in sync code ----------------------------------------------------------


def test_the_sync_api_refuses_an_async_session_and_names_the_async_face(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session:
            with pytest.raises(TypeError, match=r'AsyncSession.*mortar_rdb\.sequence\.asyncio'):
                sync_register_sequence('seq', session, impl=async_setup.implementation.impl)
            with pytest.raises(TypeError, match=r'AsyncSession.*mortar_rdb\.sequence\.asyncio'):
                sync_drop_sequence('seq', session, impl=async_setup.implementation.impl)
            impl = async_setup.implementation.impl
            await session.run_sync(lambda sync: sync_register_sequence('seq', sync, impl=impl))
            await session.commit()
            sequence = get_sequence('seq')
            with pytest.raises(TypeError, match=r'AsyncSession.*mortar_rdb\.sequence\.asyncio'):
                for _ in range(1000):  # a pooled sequence looks at the session when it reserves
                    sequence.next(session)

    async_setup.run(scenario)


def test_the_async_face_refuses_a_sync_session_and_names_the_sync_api(async_setup):
    async def scenario(engine):
        with pytest.raises(TypeError, match=r'takes an AsyncSession, not Session.*use mortar_rdb\.sequence'):
            with Session(engine.sync_engine) as session:
                await register_sequence('seq', session, impl=async_setup.implementation.impl)

    async_setup.run(scenario)


def test_an_unknown_name_raises_as_get_sequence_does(async_setup):
    with pytest.raises(ComponentLookupError, match='nope'):
        get_async_sequence('nope')


def test_a_bad_name_is_refused_as_in_sync_code(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await async_setup.register('', session)

    with pytest.raises(InvalidSequenceName):
        async_setup.run(scenario)


@applies(lambda implementation, backend: backend == 'sqlite')
def test_a_task_cancelled_inside_next_leaves_the_database_usable(async_setup):
    # Cancelled at each await in turn, so that some cancellations land while
    # the driver runs a statement (cut short, it would keep SQLite's lock).
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)

        async def two_values():
            async with AsyncSession(engine) as session, session.begin():
                await sequence.next(session)
                await sequence.next(session)

        for awaits in range(30):
            task = asyncio.create_task(two_values())
            for _ in range(awaits):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            async with AsyncSession(engine) as session, session.begin():
                await sequence.next(session)
                await session.execute(update(sequences).values(current=sequences.c.current))

    async_setup.run(scenario)


@in_the_table
def test_a_missing_table_says_so(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await async_setup.register('seq', session)

    with pytest.raises(SequenceTableMissing):
        async_setup.run(scenario, table=False)


@in_the_table
def test_a_full_sequence_raises_overflow(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
            await session.execute(update(sequences).values(current=INT64_MAX - 1))
        async with AsyncSession(engine) as session, session.begin():
            assert await sequence.next(session) == INT64_MAX
            with pytest.raises(SequenceOverflow):
                await sequence.next(session)

    async_setup.run(scenario)


@native_only
def test_an_exhausted_native_sequence_says_so(async_setup):
    largest = INT64_MAX - (async_setup.backend == 'mysql')  # MariaDB keeps the top value back

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session, start=largest - 1)
        async with AsyncSession(engine) as session:
            assert [await sequence.next(session), await sequence.next(session)] == [largest - 1, largest]
            with pytest.raises(NativeSequenceExhausted, match='start a new sequence'):
                await sequence.next(session)
        async with AsyncSession(engine) as session, session.begin():
            await sequence.drop(session)

    async_setup.run(scenario)


@gapless
def test_a_row_held_by_another_transaction_raises_a_retryable_conflict(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        impatient = async_setup.engine(short_lock_wait=True)
        try:
            async with AsyncSession(engine) as holder, holder.begin():
                await sequence.next(holder)
                async with AsyncSession(impatient) as waiter:
                    with pytest.raises(SequenceConflict):
                        await sequence.next(waiter)
        finally:
            await impatient.dispose()

    async_setup.run(scenario)


@generic_on_servers
def test_a_connection_killed_mid_transaction_raises_connection_lost(async_setup):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await async_setup.register('seq', session)
        async with AsyncSession(engine) as session:
            await sequence.next(session)
            connection_id = (await session.execute(text(CONNECTION_ID[async_setup.backend]))).scalar_one()
            async with engine.connect() as killer:
                await killer.execute(text(KILL[async_setup.backend].format(id=int(connection_id))))
            await asyncio.sleep(0.2)
            with pytest.raises(SequenceConnectionLost):
                await sequence.next(session)

    async_setup.run(scenario)


@only_on('postgresql')
def test_the_sync_psycopg_url_serves_create_async_engine(db_url):
    """``postgresql+psycopg://`` given to create_async_engine is psycopg's async mode."""
    # Whatever driver the run's URL names (psycopg2 in one CI run), this is about psycopg's.
    psycopg_url = make_url(db_url).set(drivername='postgresql+psycopg').render_as_string(hide_password=False)
    GENERIC.prepare(create_engine(psycopg_url))

    async def main():
        engine = create_async_engine(psycopg_url)
        try:
            async with AsyncSession(engine) as session, session.begin():
                sequence = await register_sequence('seq', session)
            async with AsyncSession(engine) as session, session.begin():
                return await sequence.next(session), engine.dialect.is_async
        finally:
            await engine.dispose()

    assert asyncio.run(main()) == (1, True)
