"""A server that accepts no writes: every sequence operation that writes says so, in our words.

The stock servers are made read-only for one engine's connections
(PostgreSQL's ``default_transaction_read_only``, MariaDB's
``SET SESSION TRANSACTION READ ONLY``), which the server refuses with the
same error a hot standby gives; tests/test_pg_standby.py checks the standby
itself.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import Session

from mortar_rdb.sequence import native, pooled
from mortar_rdb.sequence._cli.main import main
from mortar_rdb.sequence.errors import SequenceServerReadOnly
from mortar_rdb.sequence.generic import SequenceImplementation as Generic
from mortar_rdb.sequence.schema import create_table

from .databases import only_on

IMPLEMENTATIONS: dict[str, Any] = {
    'generic': Generic,
    'pooled': pooled.SequenceImplementation,
    'native': native.SequenceImplementation,
}


def read_only_engine(url: str) -> Engine:
    """An engine on ``url`` whose every transaction is read-only."""
    if url.startswith('postgresql'):
        return create_engine(url, connect_args={'options': '-c default_transaction_read_only=on'})
    engine = create_engine(url)

    @event.listens_for(engine, 'connect')
    def read_only(dbapi_connection: Any, record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute('SET SESSION TRANSACTION READ ONLY')

    return engine


@pytest.fixture
def writable(db_url: str) -> Iterator[Engine]:
    engine = create_engine(db_url)
    create_table(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def read_only(db_url: str, writable: Engine) -> Iterator[Engine]:
    engine = read_only_engine(db_url)
    yield engine
    engine.dispose()


def existing(impl: str, writable: Engine, name: str = 'invoices') -> None:
    with Session(writable) as session, session.begin():
        IMPLEMENTATIONS[impl](name, session)


def refused(engine: Engine, work: Callable[[Session], object]) -> SequenceServerReadOnly:
    with Session(engine) as session:
        with pytest.raises(SequenceServerReadOnly) as raised:
            with session.begin():
                work(session)
    return raised.value


on_servers = only_on('postgresql', 'mariadb')
each = pytest.mark.parametrize('impl', list(IMPLEMENTATIONS))


@on_servers
@each
def test_registering_on_a_read_only_server_says_values_come_from_the_primary(
    impl: str, writable: Engine, read_only: Engine
) -> None:
    error = refused(read_only, lambda session: IMPLEMENTATIONS[impl]('new', session))
    assert 'is read-only' in str(error) and 'on the primary' in str(error)


def pooled_on_read_only_connection(writable: Engine) -> Any:
    """A pooled sequence registered on a writable server whose own connection then turns read-only.

    As after a failover that left the application's address on a standby:
    registering wrote, reserving the next block cannot.
    """
    with Session(writable) as session, session.begin():
        sequence = pooled.SequenceImplementation('invoices', session, block_size=1)
    read_only = (
        'SET SESSION default_transaction_read_only = on'
        if writable.dialect.name == 'postgresql'
        else 'SET SESSION TRANSACTION READ ONLY'
    )

    def turn_read_only(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(read_only)
        cursor.close()
        dbapi_connection.commit()

    # The reserving connection is opened afresh, and turns read-only as the
    # pool hands it over.
    sequence.reserver.abandon()
    event.listen(writable, 'checkout', turn_read_only)
    return sequence


@on_servers
@pytest.mark.parametrize('impl', ['generic', 'native'])
def test_next_on_a_read_only_server_is_refused_in_our_words(impl: str, writable: Engine, read_only: Engine) -> None:
    existing(impl, writable)
    error = refused(read_only, IMPLEMENTATIONS[impl].for_existing('invoices').next)
    assert 'read-only' in str(error)


@on_servers
@pytest.mark.parametrize('impl', ['generic', 'native'])
def test_next_many_on_a_read_only_server_is_refused(impl: str, writable: Engine, read_only: Engine) -> None:
    existing(impl, writable)
    refused(read_only, lambda session: IMPLEMENTATIONS[impl].for_existing('invoices').next_many(session, 3))


@on_servers
def test_a_pooled_reservation_on_a_read_only_server_is_refused(writable: Engine, read_only: Engine) -> None:
    sequence = pooled_on_read_only_connection(writable)
    refused(read_only, sequence.next)


@on_servers
def test_pooled_next_many_on_a_read_only_server_is_refused(writable: Engine, read_only: Engine) -> None:
    sequence = pooled_on_read_only_connection(writable)
    refused(read_only, lambda session: sequence.next_many(session, 3))


@on_servers
@pytest.mark.parametrize('impl', ['generic', 'native'])
def test_restart_on_a_read_only_server_is_refused(impl: str, writable: Engine, read_only: Engine) -> None:
    existing(impl, writable)
    refused(read_only, lambda session: IMPLEMENTATIONS[impl].for_existing('invoices').restart(session, 100))


@on_servers
@pytest.mark.parametrize('impl', ['generic', 'native'])
def test_drop_on_a_read_only_server_is_refused(impl: str, writable: Engine, read_only: Engine) -> None:
    existing(impl, writable)
    refused(read_only, lambda session: IMPLEMENTATIONS[impl].drop_storage('invoices', session))


@on_servers
@pytest.mark.parametrize('impl', ['generic', 'native'])
def test_current_reads_on_a_read_only_server(impl: str, writable: Engine, read_only: Engine) -> None:
    existing(impl, writable)
    with Session(read_only) as session, session.begin():
        assert IMPLEMENTATIONS[impl].for_existing('invoices').current(session) is None


@on_servers
def test_the_read_only_error_is_still_the_error_the_driver_raised(writable: Engine, read_only: Engine) -> None:
    existing('generic', writable)
    error = refused(read_only, Generic.for_existing('invoices').next)
    assert isinstance(error, exc.DBAPIError) and error.orig is not None


@on_servers
def test_the_read_only_error_is_not_retried(writable: Engine, read_only: Engine) -> None:
    from transaction.interfaces import TransientError

    existing('generic', writable)
    assert not isinstance(refused(read_only, Generic.for_existing('invoices').next), TransientError)


@only_on('postgresql')
def test_the_command_line_says_the_server_is_read_only_in_one_line(
    db_url: str, writable: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    existing('generic', writable)
    url = f'{db_url}?options=-c%20default_transaction_read_only%3Don'
    assert main(['next', 'invoices', '--url', url]) == 1
    said = capsys.readouterr().err
    assert said.count('\n') == 1
    assert 'read-only' in said and 'the primary' in said and 'Traceback' not in said
