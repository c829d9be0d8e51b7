"""Which package brings each database driver, and each async driver's sync twin.

A URL names its driver (``mysql+pymysql://``) or leaves SQLAlchemy's default
(``mysql://`` is mysqlclient, ``postgresql://`` psycopg2). The advice for a
missing driver names the package that brings *that* driver, installable
from the package index in any environment: mortar_rdb's own extras are not,
because the index's ``mortar_rdb`` is the retired 3.0.0, which has none.
"""
from __future__ import annotations

import importlib.util

from sqlalchemy.engine import URL

__all__ = ['install_advice', 'sync_twin']

#: (backend, driver) -> what ``pip install`` takes to bring the driver.
_PACKAGES = {
    ('postgresql', 'psycopg2'): 'psycopg2-binary',
    ('postgresql', 'psycopg'): "'psycopg[binary]'",
    ('postgresql', 'psycopg_async'): "'psycopg[binary]'",
    ('postgresql', 'asyncpg'): 'asyncpg',
    ('postgresql', 'pg8000'): 'pg8000',
    ('mysql', 'mysqldb'): 'mysqlclient',
    ('mysql', 'pymysql'): 'PyMySQL',
    ('mysql', 'aiomysql'): 'aiomysql',
    ('mysql', 'asyncmy'): 'asyncmy',
    ('mysql', 'mysqlconnector'): 'mysql-connector-python',
    ('mysql', 'mariadbconnector'): 'mariadb',
    ('sqlite', 'aiosqlite'): 'aiosqlite',
}

#: (backend, async driver) -> the sync drivers of the same database, the first installed one used.
_SYNC_TWINS = {
    ('postgresql', 'asyncpg'): ('psycopg', 'psycopg2'),
    ('postgresql', 'psycopg_async'): ('psycopg',),
    ('mysql', 'aiomysql'): ('pymysql',),
    ('mysql', 'asyncmy'): ('pymysql', 'mysqldb'),
    ('sqlite', 'aiosqlite'): ('pysqlite',),
}

#: driver name in a URL -> the module that brings it
_MODULES = {
    'psycopg': 'psycopg',
    'psycopg2': 'psycopg2',
    'pymysql': 'pymysql',
    'mysqldb': 'MySQLdb',
    'pysqlite': 'sqlite3',
}


def _backend(url: URL) -> str:
    backend = url.get_backend_name()
    return 'mysql' if backend == 'mariadb' else backend


def install_advice(url: URL) -> str | None:
    """The ``pip install`` command that brings the driver of ``url``, if we know its package."""
    package = _PACKAGES.get((_backend(url), url.get_driver_name()))
    return f'pip install {package}' if package else None


def sync_twin(url: URL) -> tuple[URL, tuple[str, ...]] | None:
    """For a URL naming an async driver: the same URL with the database's installed
    sync driver (or its first choice, when none is installed), and every choice.
    None for a URL of a sync driver."""
    choices = _SYNC_TWINS.get((_backend(url), url.get_driver_name()))
    if choices is None:
        return None
    installed = [driver for driver in choices if importlib.util.find_spec(_MODULES[driver]) is not None]
    driver = (installed or choices)[0]
    return url.set(drivername=f'{url.get_backend_name()}+{driver}'), choices
