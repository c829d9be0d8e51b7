"""What each database makes a client wait for, how to bound every wait, and how to name the wait;
and where a database that is a file lives.

The command line makes its engines with :func:`bounded_engine`, so that a
server that never answers or a row another transaction holds ends in an
error, not a silent wait. Each database's driver and server have their own
settings:

==========  ==================================================================
SQLite      the driver's busy ``timeout`` (a lock on the database file)
PostgreSQL  psycopg's ``connect_timeout``; the session's ``lock_timeout`` and
            ``statement_timeout``, set when connecting through ``options``
MariaDB     PyMySQL's ``connect_timeout`` and ``read_timeout``; the session's
            ``innodb_lock_wait_timeout`` (rows), ``lock_wait_timeout``
            (tables) and ``max_statement_time`` (``max_execution_time`` on
            MySQL), set when connecting
==========  ==================================================================

Connecting and a lock wait run out after ``seconds``; a statement is
stopped a second later, and a server that stops answering in the middle
of a statement is given up two seconds later, so that the error says which
it was.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url

__all__ = ['Waits', 'bounded_engine', 'database_file', 'waits_for']

#: How much longer a statement may run than a lock wait, and a silent server stay silent.
STATEMENT_MARGIN = 1
SERVER_MARGIN = 2

_POSTGRESQL_DRIVERS = ('psycopg', 'psycopg2')
_MYSQL_DRIVERS = ('pymysql', 'mysqldb')


@dataclass(frozen=True)
class Waits:
    """How to name what a client of one database waits for, in words for its user.

    Each is a template of ``url`` (the database's URL, password hidden) and,
    for ``statement``, ``locked`` (what is locked: a sequence or the table).
    """

    #: while connecting
    connecting: str
    #: while a statement runs
    statement: str
    #: what to check when connecting failed
    reachable: str
    #: whoever answers, when nothing did in time
    answering: str


_SERVER = Waits(
    connecting='the database server at {url}',
    statement='{locked} in {url}, which another transaction may hold',
    reachable='the database server is up',
    answering='the database server at {url}',
)

#: SQLite has no server: its database is a file that one writer at a time locks whole.
_FILE = Waits(
    connecting='the database {url}',
    statement='the database {url}, which another writer may have locked',
    reachable='its directory exists',
    answering='the database {url}',
)


def waits_for(backend: str) -> Waits:
    """How to name the waits of the database ``backend`` ('sqlite', 'postgresql', ...)."""
    return _FILE if backend == 'sqlite' else _SERVER


def bounded_engine(url: str | URL, seconds: float) -> Engine:
    """An engine for ``url`` that waits at most about ``seconds`` for anything."""
    parsed = make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    whole = max(1, math.ceil(seconds))
    connect_args: dict[str, Any] = {}
    if backend == 'sqlite':
        connect_args['timeout'] = seconds
    elif backend == 'postgresql' and driver in _POSTGRESQL_DRIVERS:
        lock, statement = round(seconds * 1000), round((seconds + STATEMENT_MARGIN) * 1000)
        settings = f'-c lock_timeout={lock} -c statement_timeout={statement}'
        given = parsed.query.get('options')
        connect_args['connect_timeout'] = whole
        connect_args['options'] = f'{given} {settings}' if isinstance(given, str) else settings
    elif backend in ('mysql', 'mariadb') and driver in _MYSQL_DRIVERS:
        connect_args['connect_timeout'] = whole
        connect_args['read_timeout'] = whole + SERVER_MARGIN
        connect_args['write_timeout'] = whole + SERVER_MARGIN
    engine = create_engine(url, connect_args=connect_args)
    if backend in ('mysql', 'mariadb') and driver in _MYSQL_DRIVERS:
        _bound_mysql_sessions(engine, whole)
    return engine


def _bound_mysql_sessions(engine: Engine, whole: int) -> None:
    statement = whole + STATEMENT_MARGIN

    @event.listens_for(engine, 'connect')
    def bound(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f'SET SESSION innodb_lock_wait_timeout = {whole}, lock_wait_timeout = {whole}')
            if 'mariadb' in str(dbapi_connection.get_server_info()).lower():
                cursor.execute(f'SET SESSION max_statement_time = {statement}')
            else:
                cursor.execute(f'SET SESSION max_execution_time = {statement * 1000}')
        finally:
            cursor.close()


def database_file(url: str | URL) -> str | None:
    """The file that holds the database of ``url``, for a database that is a file
    (SQLite, not in memory nor a URI filename); None for any other."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != 'sqlite' or not database or database == ':memory:':
        return None
    if database.startswith('file:') or parsed.query.get('uri'):
        return None
    return database
