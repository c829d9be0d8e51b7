"""Which databases the tests run on: SQLite always, servers when configured."""

from __future__ import annotations

import os
from typing import Any, NoReturn

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


def needed(reason: str, ci_must: str) -> NoReturn:
    """A server a test needs is not configured (``reason``): fail under CI,
    which must provide it (``ci_must`` says how), skip elsewhere."""
    if os.environ.get('CI') == 'true':
        pytest.fail(f'{reason}; {ci_must}')
    pytest.skip(reason)


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
ASYNC_DRIVERS = {
    'sqlite': ['aiosqlite'],
    'postgresql': ['asyncpg', 'psycopg_async'],
    'mysql': ['aiomysql', 'asyncmy'],
}

#: How long a transaction waits for a lock, kept short so that tests of "held
#: by another transaction" fail fast: connect_args for each driver, sync and
#: async (SQLAlchemy's driver names).
SHORT_LOCK_WAIT: dict[str, dict[str, Any]] = {
    'pysqlite': {'timeout': 0.2},
    'aiosqlite': {'timeout': 0.2},
    'psycopg': {'options': '-c lock_timeout=200'},
    'psycopg2': {'options': '-c lock_timeout=200'},
    'psycopg_async': {'options': '-c lock_timeout=200'},
    'asyncpg': {'server_settings': {'lock_timeout': '200'}},
    'pymysql': {'init_command': 'SET SESSION innodb_lock_wait_timeout = 1'},
    'aiomysql': {'init_command': 'SET SESSION innodb_lock_wait_timeout = 1'},
    'asyncmy': {'init_command': 'SET SESSION innodb_lock_wait_timeout = 1'},
}


def short_lock_wait(url: str) -> dict[str, Any]:
    """The connect_args that make a connection to ``url`` give up waiting for a lock quickly."""
    return SHORT_LOCK_WAIT[make_url(url).get_dialect().driver]


#: How to find the server process behind a connection, and to end one, on each server.
CONNECTION_ID = {'postgresql': 'SELECT pg_backend_pid()', 'mysql': 'SELECT CONNECTION_ID()'}
KILL = {'postgresql': 'SELECT pg_terminate_backend({id})', 'mysql': 'KILL CONNECTION {id}'}
OTHER_CONNECTIONS = {
    'postgresql': 'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    'mysql': 'SELECT id FROM information_schema.processlist WHERE db = database() AND id <> connection_id()',
}


def async_url(url: str, driver: str | None = None) -> str:
    """``url`` with its driver swapped for an async one (``driver``, or the backend's first)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    chosen = driver or ASYNC_DRIVERS[backend][0]
    return parsed.set(drivername=f'{backend}+{chosen}').render_as_string(hide_password=False)
