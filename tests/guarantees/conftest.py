"""Fixtures for the guarantee tests: every test runs per implementation and database."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from known_implementations import IMPLEMENTATIONS, Implementation
from sqlalchemy import Engine, create_engine, make_url, select, text
from sqlalchemy.orm import Session
from taken_table import taken, taken_metadata

WORKER = Path(__file__).with_name('worker.py')

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

    def worker(self, *arguments: str, **options: Any) -> subprocess.Popen[str]:
        """Start tests/guarantees/worker.py in a process of its own."""
        return subprocess.Popen(
            [sys.executable, str(WORKER), self.url, self.implementation.id, *arguments],
            stdout=subprocess.PIPE,
            text=True,
            **options,
        )

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


@pytest.fixture(params=IMPLEMENTATIONS, ids=[implementation.id for implementation in IMPLEMENTATIONS])
def implementation(request: pytest.FixtureRequest) -> Implementation:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def setup(db_url: str, implementation: Implementation) -> Iterator[Setup]:
    """``implementation`` ready on the empty database ``db_url``, with a ``taken`` table."""
    current = Setup(db_url, implementation)
    if current.backend not in implementation.databases:
        pytest.skip(f'{implementation.id} does not run on {current.backend}; its own tests prove the error')
    engine = current.engine()
    implementation.prepare(engine)
    taken_metadata.create_all(engine)
    try:
        yield current
    finally:
        current.dispose()


@pytest.fixture
def callers_connection(setup: Setup) -> None:
    """Skip implementations whose next() does not use the caller's connection."""
    if not setup.implementation.uses_callers_connection:
        pytest.skip(f"{setup.implementation.id}'s next() does not use the caller's connection")


@pytest.fixture
def own_connection(setup: Setup) -> None:
    """Skip implementations without a connection of their own (next() uses the caller's)."""
    if setup.implementation.uses_callers_connection:
        pytest.skip(f'{setup.implementation.id} has no connection of its own')


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get('MORTAR_RDB_TEST_RESTARTS'):
        return
    skip = pytest.mark.skip(reason='restarts the database servers: set MORTAR_RDB_TEST_RESTARTS=1 (CI does)')
    for item in items:
        if 'restarts_servers' in item.keywords:
            item.add_marker(skip)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line('markers', 'restarts_servers: restarts PostgreSQL and MariaDB while it runs')
