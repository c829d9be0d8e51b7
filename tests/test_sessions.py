"""register_session and get_session."""
import threading

import pytest
import transaction
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, select
from sqlalchemy.orm import Session, scoped_session
from zope.sqlalchemy import mark_changed

from mortar_rdb import get_session, register_session
from mortar_rdb.interfaces import ISession
from mortar_rdb.registry import components

things = Table('things', MetaData(), Column('id', Integer, primary_key=True))


@pytest.fixture
def things_url(db_url):
    engine = create_engine(db_url)
    things.create(engine)
    engine.dispose()
    return db_url


def count_things(url):
    engine = create_engine(url)
    with engine.connect() as connection:
        count = len(connection.execute(select(things)).all())
    engine.dispose()
    return count


def test_url_and_engine_together_are_refused():
    with pytest.raises(TypeError, match='either url or engine'):
        register_session('sqlite://', engine=create_engine('sqlite://'))


def test_neither_url_nor_engine_is_refused():
    with pytest.raises(TypeError, match='either url or engine'):
        register_session()


def test_echo_with_an_engine_is_refused():
    with pytest.raises(TypeError, match='set echo on your own engine'):
        register_session(engine=create_engine('sqlite://'), echo=True)


def test_transactional_without_scoped_is_refused():
    with pytest.raises(TypeError, match='must be scoped'):
        register_session('sqlite://', scoped=False)


def test_get_session_of_an_unknown_name_names_it():
    with pytest.raises(LookupError, match="'nope'.*register_session"):
        get_session('nope')


def test_sessions_are_registered_by_name():
    register_session('sqlite://', 'one')
    register_session('sqlite://', 'two')
    assert get_session('one') is not get_session('two')


def test_a_scoped_session_gives_each_thread_its_own_session():
    register_session('sqlite://')
    seen = []
    thread = threading.Thread(target=lambda: seen.append(get_session()()))
    thread.start()
    thread.join()
    assert isinstance(get_session(), scoped_session)
    assert seen[0] is not get_session()()


def test_an_unscoped_session_is_one_shared_session():
    register_session('sqlite://', transactional=False, scoped=False)
    assert isinstance(get_session(), Session)
    assert get_session() is get_session()


def test_a_transactional_session_commits_with_the_transaction_manager(things_url):
    register_session(things_url)
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
        get_session().flush()
        mark_changed(get_session()())
    assert count_things(things_url) == 1


def test_a_transactional_session_rolls_back_on_abort(things_url):
    register_session(things_url)
    get_session().execute(things.insert().values(id=1))
    transaction.abort()
    assert count_things(things_url) == 0


def test_a_non_transactional_session_is_committed_by_its_owner(things_url):
    register_session(things_url, transactional=False)
    session = get_session()
    session.execute(things.insert().values(id=1))
    transaction.commit()  # nothing to do with this session
    session.rollback()
    assert count_things(things_url) == 0
    session.execute(things.insert().values(id=2))
    session.commit()
    assert count_things(things_url) == 1


def test_twophase_is_used_only_where_the_server_can_prepare(db_url):
    register_session(db_url)
    session = get_session()
    session.connection()
    # Stock PostgreSQL has max_prepared_transactions = 0; SQLite cannot
    # prepare; MariaDB always has XA.
    expected = session.bind.dialect.name in ('mysql', 'mariadb')
    assert session().twophase is expected


def test_twophase_false_is_never_used(db_url):
    register_session(db_url, twophase=False)
    get_session().connection()
    assert get_session()().twophase is False


def test_a_twophase_transaction_commits(things_url):
    register_session(things_url)
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
        mark_changed(get_session()())
    assert count_things(things_url) == 1


def test_echo_logs_sql(caplog):
    register_session('sqlite://', echo=True)
    with caplog.at_level('INFO', logger='sqlalchemy.engine'):
        get_session().execute(select(1))
    assert 'SELECT 1' in caplog.text


def test_registered_sessions_provide_isession_for_lookup():
    register_session('sqlite://')
    assert components().getUtility(ISession) is get_session()
