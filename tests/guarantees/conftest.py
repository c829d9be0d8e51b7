"""Fixtures for the guarantee tests: every test runs for each implementation
on each configured database where it applies, and only there.

A test says where it applies with :func:`tests.guarantees.cases.applies`; the combinations that do
not apply are never generated, so a run has no skips to read past. A test
that applies to no configured database is deselected.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from mortar_rdb.sequence.asyncio import AsyncSequence, register_sequence
from tests.databases import (
    ASYNC_DRIVERS,
    BACKENDS,
    CONNECTION_ID,
    ISOLATION_LEVELS,
    KILL,
    OTHER_CONNECTIONS,
    async_url,
    configured,
    empty_database,
    short_lock_wait,
)
from tests.implementations import IMPLEMENTATIONS, Implementation
from tests.workers import Worker, start, taken, taken_metadata


class Setup:
    """One implementation on one empty database."""

    def __init__(self, url: str, implementation: Implementation) -> None:
        self.url = url
        self.backend = make_url(url).get_backend_name()
        self.implementation = implementation
        self._engines: list[Engine] = []

    def engine(self, short_lock_wait: bool = False, **options: Any) -> Engine:
        """A new engine on the database, disposed after the test."""
        if short_lock_wait:
            options['connect_args'] = {**options.get('connect_args', {}), **_short_lock_wait(self.url)}
        engine = create_engine(self.url, **options)
        self._engines.append(engine)
        return engine

    def committed(self, name: str = 'seq') -> list[int]:
        """The values in ``taken`` for ``name``, in order."""
        with Session(self.engine()) as session:
            return list(session.scalars(select(taken.c.value).where(taken.c.name == name).order_by(taken.c.value)))

    def worker(self, command: str, name: str, *arguments: object) -> Worker:
        """Start a tests/workers.py process using this implementation."""
        return start(self.url, self.implementation.id, command, name, *arguments)

    def connection_id(self, session: Session) -> int:
        """The server's id for the connection of ``session``'s transaction."""
        return int(session.execute(text(CONNECTION_ID[self.backend])).scalar_one())

    def kill_connection(self, connection_id: int) -> None:
        """End a connection from the server's side, as a restart would."""
        with self.engine().connect() as connection:
            connection.execute(text(KILL[self.backend].format(id=int(connection_id))))

    def kill_all_connections(self) -> None:
        """End every other connection to the test database, as a restart would."""
        with self.engine().connect() as connection:
            for (connection_id,) in connection.execute(text(OTHER_CONNECTIONS[self.backend])).all():
                connection.execute(text(KILL[self.backend].format(id=int(connection_id))))

    def dispose(self) -> None:
        # A session a test dropped without closing may sit in a reference
        # cycle, its connection still in a transaction; on MariaDB that
        # holds a metadata lock on which the next test's DROP TABLE waits.
        gc.collect()
        for engine in self._engines:
            engine.dispose()


class AsyncSetup:
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
        return create_async_engine(self.url, connect_args=_short_lock_wait(self.url) if short_lock_wait else {})

    async def register(self, name: str, session: AsyncSession, **options: Any) -> AsyncSequence:
        implementation = self.implementation
        return await register_sequence(name, session, impl=implementation.impl, **{**implementation.options, **options})

    def run(self, scenario: Callable[[AsyncEngine], Awaitable[Any]], table: bool = True) -> Any:
        """Run ``scenario(engine)`` in a new event loop on the prepared database."""
        self.prepare(table)

        async def main() -> Any:
            engine = self.engine()
            try:
                return await scenario(engine)
            finally:
                await engine.dispose()

        return asyncio.run(main())


_short_lock_wait = short_lock_wait


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests using ``setup`` with every (implementation, database)
    pair, and isolation ``level`` if they take one, that applies; tests using
    ``async_setup`` with every (implementation, database, async driver)."""
    predicates = [mark.kwargs['predicate'] for mark in metafunc.definition.iter_markers('applies')]
    if 'async_setup' in metafunc.fixturenames:
        _parametrize_async(metafunc, predicates)
    if 'setup' not in metafunc.fixturenames:
        return
    names = ['implementation', 'db_url'] + (['level'] if 'level' in metafunc.fixturenames else [])
    cases = []
    for database in configured():
        backend = BACKENDS[database]
        for implementation in IMPLEMENTATIONS:
            if backend not in implementation.databases:
                continue  # its own tests prove the error
            if not all(predicate(implementation, backend) for predicate in predicates):
                continue
            levels = ISOLATION_LEVELS[backend] if 'level' in names else [None]
            for level in levels:
                values = [implementation, database] + ([level] if level else [])
                ids = [database, implementation.id] + ([level.replace(' ', '_').lower()] if level else [])
                cases.append(pytest.param(*values, id='-'.join(ids)))
    if not cases:
        cases = [pytest.param(*[None] * len(names), marks=pytest.mark.applies_nowhere, id='nowhere')]
    metafunc.parametrize(names, cases, indirect=['db_url'])


def _parametrize_async(metafunc: pytest.Metafunc, predicates: list[Any]) -> None:
    cases = []
    for database in configured():
        backend = BACKENDS[database]
        for driver in ASYNC_DRIVERS[backend]:
            for implementation in IMPLEMENTATIONS:
                if backend in implementation.databases and all(
                    predicate(implementation, backend) for predicate in predicates
                ):
                    cases.append(
                        pytest.param(implementation, database, driver, id=f'{database}-{driver}-{implementation.id}')
                    )
    if not cases:
        cases = [pytest.param(None, None, None, marks=pytest.mark.applies_nowhere, id='nowhere')]
    metafunc.parametrize(['implementation', 'db_url', 'driver'], cases, indirect=['db_url'])


@pytest.fixture
def async_setup(db_url: str, driver: str, implementation: Implementation) -> AsyncSetup:
    """``implementation`` on the empty database ``db_url`` through the async ``driver``;
    its ``run()`` prepares the database and runs a scenario in a new event loop."""
    return AsyncSetup(db_url, driver, implementation)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty database: the one pytest_generate_tests chose."""
    return empty_database(request.param, str(tmp_path_factory.mktemp('sqlite')))


@pytest.fixture
def setup(db_url: str, implementation: Implementation) -> Iterator[Setup]:
    """``implementation`` ready on the empty database ``db_url``, with a ``taken`` table."""
    current = Setup(db_url, implementation)
    engine = current.engine()
    implementation.prepare(engine)
    taken_metadata.create_all(engine)
    try:
        yield current
    finally:
        current.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get('MORTAR_RDB_TEST_RESTARTS'):
        return
    skip = pytest.mark.skip(reason='restarts the database servers: set MORTAR_RDB_TEST_RESTARTS=1 (CI does)')
    for item in items:
        if 'restarts_servers' in item.keywords:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'restarts_servers: restarts PostgreSQL and MariaDB while it runs')
    config.addinivalue_line('markers', 'applies(predicate): the (implementation, backend) pairs a test is for')
