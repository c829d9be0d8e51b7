"""Fixtures for the guarantee tests: every test runs for each implementation
on each configured database where it applies, and only there.

A test says where it applies with :func:`tests.guarantees.cases.applies`; the combinations that do
not apply are never generated, so a run has no skips to read past. A test
that applies to no configured database is deselected.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.orm import Session

from tests.databases import BACKENDS, ISOLATION_LEVELS, configured, empty_database
from tests.implementations import IMPLEMENTATIONS, Implementation
from tests.workers import Worker, start, taken, taken_metadata

# How long a transaction waits for a lock before giving up, kept short so that
# tests of "held by another transaction" fail fast. The only per-database
# settings in the tests.
_SHORT_LOCK_WAIT: dict[str, dict[str, Any]] = {
    'sqlite': {'timeout': 0.2},
    'postgresql': {'options': '-c lock_timeout=200'},
    'mysql': {'init_command': 'SET SESSION innodb_lock_wait_timeout = 1'},
}


# How to find and end the server process behind a connection.
_CONNECTION_ID = {'postgresql': 'SELECT pg_backend_pid()', 'mysql': 'SELECT CONNECTION_ID()'}
_KILL = {'postgresql': 'SELECT pg_terminate_backend({id})', 'mysql': 'KILL CONNECTION {id}'}
_OTHER_CONNECTIONS = {
    'postgresql': 'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    'mysql': 'SELECT id FROM information_schema.processlist WHERE db = database() AND id <> connection_id()',
}


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
            options['connect_args'] = {**options.get('connect_args', {}), **_SHORT_LOCK_WAIT[self.backend]}
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
        return int(session.execute(text(_CONNECTION_ID[self.backend])).scalar_one())

    def kill_connection(self, connection_id: int) -> None:
        """End a connection from the server's side, as a restart would."""
        with self.engine().connect() as connection:
            connection.execute(text(_KILL[self.backend].format(id=int(connection_id))))

    def kill_all_connections(self) -> None:
        """End every other connection to the test database, as a restart would."""
        with self.engine().connect() as connection:
            for (connection_id,) in connection.execute(text(_OTHER_CONNECTIONS[self.backend])).all():
                connection.execute(text(_KILL[self.backend].format(id=int(connection_id))))

    def dispose(self) -> None:
        # A session a test dropped without closing may sit in a reference
        # cycle, its connection still in a transaction; on MariaDB that
        # holds a metadata lock on which the next test's DROP TABLE waits.
        gc.collect()
        for engine in self._engines:
            engine.dispose()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize tests using ``setup`` with every (implementation, database)
    pair, and isolation ``level`` if they take one, that applies."""
    if 'setup' not in metafunc.fixturenames:
        return
    predicates = [mark.kwargs['predicate'] for mark in metafunc.definition.iter_markers('applies')]
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
