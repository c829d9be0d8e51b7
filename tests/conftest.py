"""Every test that takes ``db_url`` runs once per configured database.

SQLite (a file in the test's temporary directory) always runs. PostgreSQL
and MariaDB run when their URLs are in the environment, and then they must
be reachable: a configured database that is down fails the run.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import transaction
from sqlalchemy import create_engine, text

from mortar_rdb import drop_tables, registry
from mortar_rdb.interfaces import ISession

SERVERS = {
    'postgresql': 'MORTAR_RDB_TEST_POSTGRESQL',
    'mariadb': 'MORTAR_RDB_TEST_MARIADB',
}


def server_urls() -> dict[str, str]:
    return {name: os.environ[variable] for name, variable in SERVERS.items() if os.environ.get(variable)}


def pytest_report_header(config: pytest.Config) -> str:
    return 'databases: ' + ', '.join(['sqlite', *server_urls()])


def pytest_sessionstart(session: pytest.Session) -> None:
    for name, url in server_urls().items():
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                connection.execute(text('SELECT 1'))
        except Exception as error:
            raise pytest.UsageError(f'{name} is configured ({url}) but unreachable: {error}') from error
        finally:
            engine.dispose()


@pytest.fixture(params=['sqlite', *server_urls()])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database, one per configured backend."""
    if request.param == 'sqlite':
        path = tmp_path_factory.mktemp('sqlite') / 'test.db'
        yield f'sqlite:///{path}?timeout=30'
        return
    url = server_urls()[request.param]
    engine = create_engine(url)
    try:
        drop_tables(engine)
    finally:
        engine.dispose()
    yield url


@pytest.fixture(autouse=True)
def isolated_registry() -> Iterator[None]:
    """Registrations made by a test are forgotten, and its engines closed."""
    with registry.isolated() as components:
        try:
            yield
        finally:
            transaction.abort()
            for registration in components.registeredUtilities():
                if registration.provided is ISession:
                    session = registration.component
                    remove = getattr(session, 'remove', None) or session.close
                    remove()
                    session.bind.dispose()
