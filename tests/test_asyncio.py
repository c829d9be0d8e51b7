"""The async face (mortar_rdb.sequence.asyncio): the sync API's behaviour, awaited.

Each test runs for every implementation on every configured database and
async driver where it applies, inside ``asyncio.run``.
"""
from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

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
    AsyncSequence,
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
from tests.databases import ASYNC_DRIVERS, BACKENDS, async_url, configured, empty_database, only_on
from tests.implementations import GENERIC, IMPLEMENTATIONS, NATIVE, POOLED, Implementation
from tests.workers import taken, taken_metadata

INT64_MAX = 2**63 - 1

#: How long a transaction waits for a lock here, kept short so that conflicts come fast.
SHORT_LOCK_WAIT: dict[str, dict[str, Any]] = {
    'aiosqlite': {'timeout': 0.2},
    'asyncpg': {'server_settings': {'lock_timeout': '200'}},
    'psycopg_async': {'options': '-c lock_timeout=200'},
    'aiomysql': {'init_command': 'SET SESSION innodb_lock_wait_timeout = 1'},
}
CONNECTION_ID = {'postgresql': 'SELECT pg_backend_pid()', 'mysql': 'SELECT CONNECTION_ID()'}
KILL = {'postgresql': 'SELECT pg_terminate_backend({id})', 'mysql': 'KILL CONNECTION {id}'}


class Case:
    """One implementation on one empty database, reached through one async driver."""

    def __init__(self, url: str, driver: str, implementation: Implementation) -> None:
        self.sync_url = url
        self.url = async_url(url, driver)
        self.driver = driver
        self.backend = make_url(url).get_backend_name()
        self.implementation = implementation

    def prepare(self, table: bool = True) -> None:
        engine = create_engine(self.sync_url)
        try:
            if table:
                self.implementation.prepare(engine)
            taken_metadata.create_all(engine)
        finally:
            engine.dispose()

    def engine(self, short_lock_wait: bool = False) -> AsyncEngine:
        connect_args = SHORT_LOCK_WAIT[self.driver] if short_lock_wait else {}
        return create_async_engine(self.url, connect_args=connect_args)

    async def register(self, name: str, session: AsyncSession, **options: Any) -> AsyncSequence:
        implementation = self.implementation
        return await register_sequence(name, session, impl=implementation.impl, **{**implementation.options, **options})

    def run(self, scenario: Callable[[AsyncEngine], Awaitable[Any]], table: bool = True) -> Any:
        """Run ``scenario(engine)`` in a new event loop on a prepared database."""
        self.prepare(table)

        async def main() -> Any:
            engine = self.engine()
            try:
                return await scenario(engine)
            finally:
                await engine.dispose()

        return asyncio.run(main())


def cases(where: Callable[[Implementation, str], bool] = lambda implementation, backend: True) -> Any:
    """Parametrize ``case`` with every (database, driver, implementation) for which ``where`` holds."""
    params = []
    for database in configured():
        backend = BACKENDS[database]
        for driver in ASYNC_DRIVERS[backend]:
            for implementation in IMPLEMENTATIONS:
                if backend in implementation.databases and where(implementation, backend):
                    params.append(pytest.param(database, driver, implementation, id=f'{driver}-{implementation.id}'))
    if not params:
        return pytest.mark.applies_nowhere
    return pytest.mark.parametrize('database, driver, implementation', params)


@pytest.fixture
def case(database: str, driver: str, implementation: Implementation, tmp_path: Any) -> Case:
    return Case(empty_database(database, str(tmp_path)), driver, implementation)


every = cases()
gapless = cases(lambda implementation, backend: implementation.gapless)
in_the_table = cases(lambda implementation, backend: implementation.uses_table)
unique_only = cases(lambda implementation, backend: not implementation.gapless)
pooled_only = cases(lambda implementation, backend: implementation is POOLED)
native_only = cases(lambda implementation, backend: implementation is NATIVE)
generic_on_servers = cases(lambda implementation, backend: implementation is GENERIC and backend != 'sqlite')


async def committed_values(engine: AsyncEngine, name: str = 'seq') -> list[int]:
    async with AsyncSession(engine) as session:
        return list(
            await session.scalars(taken.select().with_only_columns(taken.c.value).where(taken.c.name == name))
        )


# Taking values -------------------------------------------------------------------


@every
def test_values_are_taken_with_await_inside_the_transaction(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            return [await sequence.next(session) for _ in range(3)]

    assert case.run(scenario) == [1, 2, 3]


@every
def test_the_async_face_uses_the_registration_of_the_sync_api(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await case.register('seq', session)
        face = get_async_sequence('seq')
        async with AsyncSession(engine) as session, session.begin():
            await face.next(session)
        return face

    face = case.run(scenario)
    assert face.sync_sequence is get_sequence('seq')
    assert face.name == 'seq'


@every
def test_a_sequence_registered_with_the_sync_api_is_awaited_by_name(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await session.run_sync(lambda sync: sync_register_sequence('seq', sync, impl=case.implementation.impl))
        async with AsyncSession(engine) as session, session.begin():
            return await get_async_sequence('seq').next(session)

    assert case.run(scenario) == 1


@every
def test_an_async_scoped_session_is_accepted(case):
    async def scenario(engine):
        scoped = async_scoped_session(async_sessionmaker(engine), scopefunc=asyncio.current_task)
        try:
            async with scoped.begin():
                sequence = await case.register('seq', scoped)
            async with scoped.begin():
                return await sequence.next(scoped)
        finally:
            await scoped.remove()

    assert case.run(scenario) == 1


@gapless
def test_rollback_gives_the_value_back(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        async with AsyncSession(engine) as session:
            async with session.begin():
                assert await sequence.next(session) == 1
                await session.rollback()
            async with session.begin():
                return await sequence.next(session)

    assert case.run(scenario) == 1


@gapless
def test_concurrent_tasks_commit_every_value_once_and_in_order(case):
    async def take(engine, sequence):
        async with AsyncSession(engine) as session, session.begin():
            value = await sequence.next(session)
            await session.execute(insert(taken).values(name='seq', value=value))

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        await asyncio.gather(*(take(engine, sequence) for _ in range(20)))
        return sorted(await committed_values(engine))

    assert case.run(scenario) == list(range(1, 21))


@unique_only
def test_tasks_in_one_loop_never_get_the_same_value(case):
    async def take(engine, sequence):
        async with AsyncSession(engine) as session, session.begin():
            return [await sequence.next(session) for _ in range(7)]

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            options = {'block_size': 3} if case.implementation is POOLED else {}
            sequence = await case.register('seq', session, **options)
        taken_by_task = await asyncio.gather(*(take(engine, sequence) for _ in range(30)))
        return [value for values in taken_by_task for value in values]

    values = case.run(scenario)
    assert len(set(values)) == len(values) == 210


@pooled_only
def test_pooled_values_need_no_session(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        return [await sequence.next() for _ in range(3)]

    assert case.run(scenario) == [1, 2, 3]


@pooled_only
def test_a_sequence_goes_on_reserving_in_a_new_event_loop(case):
    """The reserving connection of the first loop is closed with it; the second opens its own."""

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session, block_size=2)
        return [await sequence.next() for _ in range(3)]

    first = case.run(scenario)

    async def again(engine):
        sequence = get_async_sequence('seq')
        return [await sequence.next() for _ in range(3)]

    assert first == [1, 2, 3]
    assert case.run(again) == [4, 5, 6]


@pooled_only
def test_a_pooled_sequence_reserves_on_the_async_engine_it_is_given(case):
    async def scenario(engine):
        reserving = case.engine()
        try:
            async with AsyncSession(engine) as session, session.begin():
                sequence = await case.register('seq', session, engine=reserving)
            values = [await sequence.next() for _ in range(3)]
            async with AsyncSession(engine) as session:
                dropped = await drop_sequence('seq', session)
            return values, sequence.sync_sequence._engine is reserving.sync_engine, dropped
        finally:
            await reserving.dispose()

    assert case.run(scenario) == ([1, 2, 3], True, True)


# The managed operations -----------------------------------------------------------


@every
def test_next_many_takes_consecutive_values(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            return list(await sequence.next_many(session, 3))

    assert case.run(scenario) == [1, 2, 3]


@every
def test_current_says_the_last_value_handed_out(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session, start=5)
        async with AsyncSession(engine) as session, session.begin():
            before = await sequence.current(session)
            await sequence.next(session)
        async with AsyncSession(engine) as session, session.begin():
            return before, await sequence.current(session)

    before, after = case.run(scenario)
    assert before == 4
    assert after == (5 if case.implementation is not POOLED else 4 + POOLED.options['block_size'])


@every
def test_restart_makes_the_value_the_next_one(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            await sequence.restart(session, 100)
        async with AsyncSession(engine) as session, session.begin():
            return await sequence.next(session)

    assert case.run(scenario) == 100


@every
def test_drop_removes_the_storage_and_the_registration(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await case.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            existed = await drop_sequence('seq', session, impl=case.implementation.impl)
        async with AsyncSession(engine) as session, session.begin():
            again = await drop_sequence('seq', session, impl=case.implementation.impl)
        return existed, again

    assert case.run(scenario) == (True, False)
    with pytest.raises(ComponentLookupError):
        get_async_sequence('seq')


@every
def test_a_dropped_sequence_registered_again_starts_afresh(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            await sequence.next(session)
        async with AsyncSession(engine) as session, session.begin():
            assert await sequence.drop(session)
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            return await sequence.next(session)

    assert case.run(scenario) == 1


# Errors arrive as in sync code ----------------------------------------------------------


@every
def test_the_sync_api_refuses_an_async_session_and_names_the_async_face(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session:
            with pytest.raises(TypeError, match=r'AsyncSession.*mortar_rdb\.sequence\.asyncio'):
                sync_register_sequence('seq', session, impl=case.implementation.impl)
            with pytest.raises(TypeError, match=r'AsyncSession.*mortar_rdb\.sequence\.asyncio'):
                sync_drop_sequence('seq', session, impl=case.implementation.impl)
            await session.run_sync(lambda sync: sync_register_sequence('seq', sync, impl=case.implementation.impl))
            await session.commit()
            sequence = get_sequence('seq')
            with pytest.raises(TypeError, match=r'AsyncSession.*mortar_rdb\.sequence\.asyncio'):
                for _ in range(1000):  # a pooled sequence looks at the session when it reserves
                    sequence.next(session)

    case.run(scenario)


@every
def test_the_async_face_refuses_a_sync_session_and_names_the_sync_api(case):
    async def scenario(engine):
        with pytest.raises(TypeError, match=r'takes an AsyncSession, not Session.*use mortar_rdb\.sequence'):
            with Session(engine.sync_engine) as session:
                await register_sequence('seq', session, impl=case.implementation.impl)

    case.run(scenario)


@every
def test_an_unknown_name_raises_as_get_sequence_does(case):
    with pytest.raises(ComponentLookupError, match='nope'):
        get_async_sequence('nope')


@every
def test_a_bad_name_is_refused_as_in_sync_code(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await case.register('', session)

    with pytest.raises(InvalidSequenceName):
        case.run(scenario)


@in_the_table
def test_a_missing_table_says_so(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            await case.register('seq', session)

    with pytest.raises(SequenceTableMissing):
        case.run(scenario, table=False)


@in_the_table
def test_a_full_sequence_raises_overflow(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
            await session.execute(update(sequences).values(current=INT64_MAX - 1))
        async with AsyncSession(engine) as session, session.begin():
            assert await sequence.next(session) == INT64_MAX
            with pytest.raises(SequenceOverflow):
                await sequence.next(session)

    case.run(scenario)


@native_only
def test_an_exhausted_native_sequence_says_so(case):
    largest = INT64_MAX - (case.backend == 'mysql')  # MariaDB keeps the top value back

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session, start=largest - 1)
        async with AsyncSession(engine) as session:
            assert [await sequence.next(session), await sequence.next(session)] == [largest - 1, largest]
            with pytest.raises(NativeSequenceExhausted, match='start a new sequence'):
                await sequence.next(session)
        async with AsyncSession(engine) as session, session.begin():
            await sequence.drop(session)

    case.run(scenario)


@gapless
def test_a_row_held_by_another_transaction_raises_a_retryable_conflict(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        impatient = case.engine(short_lock_wait=True)
        try:
            async with AsyncSession(engine) as holder, holder.begin():
                await sequence.next(holder)
                async with AsyncSession(impatient) as waiter:
                    with pytest.raises(SequenceConflict):
                        await sequence.next(waiter)
        finally:
            await impatient.dispose()

    case.run(scenario)


@generic_on_servers
def test_a_connection_killed_mid_transaction_raises_connection_lost(case):
    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        async with AsyncSession(engine) as session:
            await sequence.next(session)
            connection_id = (await session.execute(text(CONNECTION_ID[case.backend]))).scalar_one()
            async with engine.connect() as killer:
                await killer.execute(text(KILL[case.backend].format(id=int(connection_id))))
            await asyncio.sleep(0.2)
            with pytest.raises(SequenceConnectionLost):
                await sequence.next(session)

    case.run(scenario)


@only_on('postgresql')
def test_the_sync_psycopg_url_serves_create_async_engine(db_url):
    """``postgresql+psycopg://`` given to create_async_engine is psycopg's async mode."""
    case = Case(db_url, 'psycopg', GENERIC)
    case.url = db_url

    async def scenario(engine):
        async with AsyncSession(engine) as session, session.begin():
            sequence = await case.register('seq', session)
        async with AsyncSession(engine) as session, session.begin():
            return await sequence.next(session), engine.dialect.is_async

    assert case.run(scenario) == (1, True)
