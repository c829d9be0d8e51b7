"""mortar_rdb.testing: sessions on clean databases for applications' tests."""
import threading

import pytest
import transaction
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, inspect, select, text
from zope.component import getSiteManager
from zope.interface.interfaces import ComponentLookupError

from mortar_rdb import get_session
from mortar_rdb.controlled import Config
from mortar_rdb.registry import isolated
from mortar_rdb.sequence import get_sequence, register_sequence
from mortar_rdb.sequence.generic import source
from mortar_rdb.testing import register_session

metadata = MetaData()
things = Table('things', metadata, Column('id', Integer, primary_key=True))


def table_names(session):
    return set(inspect(session.connection()).get_table_names())


def test_it_returns_the_registered_session():
    session = register_session(transactional=False)
    assert session is get_session()


def test_it_creates_the_tables_of_a_config():
    session = register_session(config=Config(source))
    assert table_names(session) == {'sequences'}


def test_it_creates_the_tables_of_a_metadata():
    session = register_session(metadata=metadata)
    assert table_names(session) == {'things'}


def test_it_empties_the_database_first(db_url):
    engine = create_engine(db_url)
    metadata.create_all(engine)
    engine.dispose()
    session = register_session(db_url, config=Config(source))
    assert table_names(session) == {'sequences'}


def test_the_database_comes_from_db_url_in_the_environment(db_url, monkeypatch):
    monkeypatch.setenv('DB_URL', db_url)
    session = register_session(transactional=False)
    assert session.bind.url.render_as_string() == create_engine(db_url).url.render_as_string()


def test_without_a_url_every_thread_shares_one_in_memory_database():
    register_session(metadata=metadata)
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
    seen = []

    def read() -> None:
        session = get_session()
        seen.extend(session.execute(select(things.c.id)).scalars())
        session.close()

    thread = threading.Thread(target=read)
    thread.start()
    thread.join()
    assert seen == [1]


def test_sequences_work_on_its_session():
    session = register_session(config=Config(source))
    with transaction.manager:
        register_sequence('seq', session)
    assert get_sequence('seq').next(session) == 1


def test_url_and_engine_together_are_refused():
    with pytest.raises(TypeError, match='either url or engine'):
        register_session('sqlite://', engine=create_engine('sqlite://'))


def test_an_isolated_registry_forgets_what_was_registered_inside_it():
    with isolated():
        register_session(transactional=False, name='inner')
        inner = get_session('inner')
    with pytest.raises(ComponentLookupError):
        get_session('inner')
    inner.bind.dispose()


def test_an_isolated_registry_is_zope_components_site_manager():
    with isolated() as components:
        assert getSiteManager() is components
    assert getSiteManager() is not components


def test_an_inheriting_isolated_registry_sees_what_was_registered_before():
    outer = register_session(transactional=False, name='outer')
    with isolated(inherit=True):
        assert get_session('outer') is outer


def test_its_sessions_never_prepare(db_url):
    session = register_session(db_url, metadata=metadata)
    prepared = []
    event.listen(session.bind, 'prepare_twophase', lambda connection, xid: prepared.append(xid))
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
    assert prepared == []


def test_ddl_works_through_its_session(db_url, monkeypatch):
    # A MariaDB DB_URL used to give an XA session, which refuses DDL.
    monkeypatch.setenv('DB_URL', db_url)
    register_session()
    with transaction.manager:
        get_session().execute(text('CREATE TABLE made (id INTEGER)'))
    assert 'made' in table_names(get_session())


def test_ddl_works_through_its_non_transactional_session(db_url):
    session = register_session(db_url, transactional=False)
    session.execute(text('CREATE TABLE made (id INTEGER)'))
    session.commit()
    assert 'made' in table_names(session)
