"""Which databases the tests run on: SQLite always, servers when configured."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, make_url

from mortar_rdb import drop_tables

SERVERS = {
    'postgresql': 'MORTAR_RDB_TEST_POSTGRESQL',
    'mariadb': 'MORTAR_RDB_TEST_MARIADB',
}

#: SQLAlchemy's backend name for each database the tests know (MariaDB is 'mysql').
BACKENDS = {'sqlite': 'sqlite', 'postgresql': 'postgresql', 'mariadb': 'mysql'}

#: The isolation levels each backend offers; SQLite's transactions are always serializable.
LEVELS = ['READ COMMITTED', 'REPEATABLE READ', 'SERIALIZABLE']
ISOLATION_LEVELS = {'sqlite': ['SERIALIZABLE'], 'postgresql': LEVELS, 'mysql': LEVELS}


def server_urls() -> dict[str, str]:
    """The configured servers' SQLAlchemy URLs, by backend name."""
    return {name: os.environ[variable] for name, variable in SERVERS.items() if os.environ.get(variable)}


def configured() -> list[str]:
    """The names of the databases this run uses: 'sqlite', then the configured servers."""
    return ['sqlite', *server_urls()]


def only_on(*databases: str) -> pytest.MarkDecorator:
    """Run a test taking ``db_url`` on these databases only (those configured).

    Where none of them is configured, the test is deselected rather than
    skipped: it does not apply to this run.
    """
    chosen = [database for database in configured() if database in databases]
    if not chosen:
        return pytest.mark.applies_nowhere
    return pytest.mark.parametrize('db_url', chosen, indirect=True)


#: Only on the database servers (PostgreSQL, MariaDB).
on_servers = only_on('postgresql', 'mariadb')


def empty_database(backend: str, directory: str) -> str:
    """The URL of an empty database on ``backend``."""
    if backend == 'sqlite':
        return f'sqlite:///{directory}/test.db?timeout=30'
    url = server_urls()[backend]
    engine = create_engine(url)
    try:
        drop_tables(engine)
    finally:
        engine.dispose()
    return url


#: The async drivers the tests use on each database (SQLAlchemy's backend
#: names), the first being the one used where only one is.
ASYNC_DRIVERS = {'sqlite': ['aiosqlite'], 'postgresql': ['asyncpg', 'psycopg_async'], 'mysql': ['aiomysql']}


def async_url(url: str, driver: str | None = None) -> str:
    """``url`` with its driver swapped for an async one (``driver``, or the backend's first)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    chosen = driver or ASYNC_DRIVERS[backend][0]
    return parsed.set(drivername=f'{backend}+{chosen}').render_as_string(hide_password=False)
