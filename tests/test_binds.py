"""Sequence SQL runs where the session binds the ``sequences`` table (or the native sequence).

A session may bind tables to different databases (``binds=`` by table or by
mapper, or its own ``get_bind()``): the spec's "source of unique integer
identifiers that you share across several database servers". Every
operation of every implementation must then find the sequences' database
through the session, not ask it for "its" single connection.
"""
from __future__ import annotations

import pytest
import transaction
import zope.sqlalchemy
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, insert, select
from sqlalchemy.orm import Session, registry
from sqlalchemy.sql import visitors
from sqlalchemy.sql.functions import next_value as NextValue

from mortar_rdb.sequence import drop_sequence, generic, get_sequence, native, pooled, register_sequence
from mortar_rdb.sequence.generic import sequences

from .databases import server_urls
from .helpers import stored_values

app_metadata = MetaData()
#: The application's own table, kept in another database than the sequences.
orders = Table('orders', app_metadata, Column('number', Integer, primary_key=True, autoincrement=False))

IMPLEMENTATIONS = {'generic': generic.SequenceImplementation, 'pooled': pooled.SequenceImplementation}


class _SequenceRow:
    """A class mapped onto the sequences table, to bind it by mapper."""


_mapper_registry = registry()
_mapper_registry.map_imperatively(_SequenceRow, sequences)


def table_names(clause):
    """The names of the tables in ``clause``, as a custom ``get_bind()`` would look for them."""
    return set() if clause is None else {table.name for table in visitors.iterate(clause) if isinstance(table, Table)}


def _by_table(sequence_engine, app_engine):
    return Session(binds={sequences: sequence_engine, orders: app_engine})


def _by_mapper(sequence_engine, app_engine):
    return Session(binds={_SequenceRow: sequence_engine, orders: app_engine})


def _by_get_bind(sequence_engine, app_engine):
    class Routing(Session):
        def get_bind(self, mapper=None, *, clause=None, **kw):
            return sequence_engine if 'sequences' in table_names(clause) else app_engine

    return Routing()


SESSIONS = {'binds-by-table': _by_table, 'binds-by-mapper': _by_mapper, 'custom-get_bind': _by_get_bind}


def stored_orders(url):
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(orders.c.number)).scalars().all()
    finally:
        engine.dispose()


@pytest.fixture
def two_databases(tmp_path):
    """The sequences table in one SQLite file, the application's table in another."""
    urls = f'sqlite:///{tmp_path}/sequences.db', f'sqlite:///{tmp_path}/app.db'
    engines = [create_engine(url) for url in urls]
    sequences.create(engines[0])
    app_metadata.create_all(engines[1])
    yield urls, engines
    transaction.abort()
    for engine in engines:
        engine.dispose()


def joined(session):
    zope.sqlalchemy.register(session)
    return session


@pytest.mark.parametrize('make_session', list(SESSIONS.values()), ids=list(SESSIONS))
@pytest.mark.parametrize('impl', list(IMPLEMENTATIONS))
def test_every_operation_runs_on_the_database_that_holds_the_sequences_table(two_databases, impl, make_session):
    (sequence_url, app_url), engines = two_databases
    session = joined(make_session(*engines))
    implementation = IMPLEMENTATIONS[impl]
    with transaction.manager:
        register_sequence('seq', session, impl=implementation)
        register_sequence('other', session, impl=implementation)
    sequence = get_sequence('seq')
    with transaction.manager:
        assert sequence.next(session) == 1
        assert len(sequence.next_many(session, 2)) == 2
        session.execute(insert(orders).values(number=1))
        zope.sqlalchemy.mark_changed(session)
    with transaction.manager:
        assert sequence.current(session) is not None
        sequence.restart(session, 500)
    with transaction.manager:
        assert sequence.next(session) == 500
    with transaction.manager:
        assert drop_sequence('seq', session) is True
        assert implementation.drop_storage('other', session) is True
    assert stored_values(sequence_url) == {}
    assert stored_orders(app_url) == [1]


@pytest.mark.parametrize('make_session', list(SESSIONS.values()), ids=list(SESSIONS))
def test_a_generic_value_and_an_application_row_commit_together_in_two_databases(two_databases, make_session):
    (sequence_url, app_url), engines = two_databases
    session = joined(make_session(*engines))
    with transaction.manager:
        register_sequence('seq', session)
    with transaction.manager:
        session.execute(insert(orders).values(number=get_sequence('seq').next(session)))
    assert stored_values(sequence_url) == {'seq': 1}
    assert stored_orders(app_url) == [1]


def test_a_generic_next_is_one_statement_on_the_sequences_database(two_databases):
    (sequence_url, app_url), engines = two_databases
    statements = {engine: [] for engine in engines}

    def record(connection, cursor, sql, *rest):
        statements[connection.engine].append(sql)

    for engine in engines:
        event.listen(engine, 'before_cursor_execute', record)
    session = joined(_by_table(*engines))
    with transaction.manager:
        register_sequence('seq', session)
    with transaction.manager:
        get_sequence('seq').next(session)  # the first call of a transaction begins it
        for sent in statements.values():
            sent.clear()
        get_sequence('seq').next(session)
        assert [len(sent) for sent in statements.values()] == [1, 0]


on_servers = pytest.mark.parametrize('db_url', list(server_urls()), indirect=True)


@pytest.fixture
def server_and_sqlite(db_url, tmp_path):
    """An engine on the configured server and one on a SQLite file holding the application's table."""
    engines = create_engine(db_url), create_engine(f'sqlite:///{tmp_path}/app.db')
    app_metadata.create_all(engines[1])
    yield engines
    transaction.abort()
    for engine in engines:
        engine.dispose()


@on_servers
@pytest.mark.parametrize('impl', list(IMPLEMENTATIONS))
def test_sequences_on_a_server_and_an_application_row_in_sqlite_commit_in_one_transaction(
    db_url, server_and_sqlite, impl
):
    server, app = server_and_sqlite
    sequences.create(server)
    session = joined(_by_table(server, app))
    with transaction.manager:
        register_sequence('seq', session, impl=IMPLEMENTATIONS[impl])
    with transaction.manager:
        session.execute(insert(orders).values(number=get_sequence('seq').next(session)))
        zope.sqlalchemy.mark_changed(session)
    assert stored_orders(str(app.url)) == [1]
    assert stored_values(db_url) == {'seq': 1 if impl == 'generic' else pooled.DEFAULT_BLOCK_SIZE}


def _native_on(server, app):
    """A session that sends native sequences to ``server``, everything else to ``app``."""

    class Routing(Session):
        def get_bind(self, mapper=None, *, clause=None, **kw):
            sequences_in_clause = [] if clause is None else [
                element for element in visitors.iterate(clause) if isinstance(element, NextValue)
            ]
            return server if sequences_in_clause else app

    return Routing()


@on_servers
def test_every_native_operation_runs_on_the_sessions_bind_for_the_sequence(db_url, server_and_sqlite):
    server, app = server_and_sqlite
    session = joined(_native_on(server, app))
    with transaction.manager:
        register_sequence('seq', session, impl=native.SequenceImplementation)
        register_sequence('other', session, impl=native.SequenceImplementation)
    sequence = get_sequence('seq')
    with transaction.manager:
        session.execute(insert(orders).values(number=sequence.next(session)))
        zope.sqlalchemy.mark_changed(session)
        assert sequence.next_many(session, 2) == [2, 3]
    with transaction.manager:
        assert sequence.current(session) == 3
        sequence.restart(session, 50)
        assert sequence.next(session) == 50
        assert native.names(Session(server)) == ['other', 'seq']
    with transaction.manager:
        assert drop_sequence('seq', session) is True
        assert native.SequenceImplementation.drop_storage('other', session) is True
    assert native.names(Session(server)) == []
    assert stored_orders(str(app.url)) == [1]
