"""register_session and get_session."""
import threading
from inspect import signature

import pytest
import transaction
from sqlalchemy import Column, Integer, MetaData, Table, create_engine, event, inspect, select, text
from sqlalchemy.orm import DeclarativeBase, Session, object_session, scoped_session
from testfixtures import LogCapture
from zope.component import getSiteManager
from zope.interface.interfaces import ComponentLookupError
from zope.sqlalchemy import mark_changed

from mortar_rdb import get_session, register_session
from mortar_rdb.interfaces import ISession

things = Table('things', MetaData(), Column('id', Integer, primary_key=True))


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = 'orm_things'
    id = Column(Integer, primary_key=True)


@pytest.fixture
def things_url(db_url):
    engine = create_engine(db_url)
    things.create(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    return db_url


def count(url, table=things):
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = len(connection.execute(select(table)).all())
    engine.dispose()
    return rows


def prepares(session):
    """A list that gets an entry each time ``session``'s engine prepares a transaction."""
    seen = []
    event.listen(session.bind, 'prepare_twophase', lambda connection, xid: seen.append(xid))
    return seen


def server_can_prepare(url):
    """Asked of the server itself: MariaDB always has XA, PostgreSQL when configured."""
    engine = create_engine(url)
    try:
        if engine.dialect.name == 'postgresql':
            with engine.connect() as connection:
                return int(connection.execute(text('SHOW max_prepared_transactions')).scalar()) > 0
        return engine.dialect.name in ('mysql', 'mariadb')
    finally:
        engine.dispose()


# Arguments ---------------------------------------------------------------------


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


def test_the_arguments_are_30s_in_30s_order():
    assert list(signature(register_session).parameters) == [
        'url', 'name', 'engine', 'echo', 'transactional', 'scoped', 'twophase'
    ]


def test_the_seventh_positional_argument_is_twophase():
    register_session('sqlite://', 'one-phase', None, None, True, True, False)
    register_session('sqlite://', 'two-phase', None, None, True, True, True)
    factories = [getSiteManager().getUtility(ISession, name) for name in ('one-phase', 'two-phase')]
    assert [factory.session_factory.kw['twophase'] for factory in factories] == [False, True]


def test_echo_false_beside_an_engine_is_accepted_as_in_30():
    register_session(engine=create_engine('sqlite://'), echo=False)
    assert not get_session().bind.echo


def test_echo_logs_sql(caplog):
    register_session('sqlite://', echo=True)
    with caplog.at_level('INFO', logger='sqlalchemy.engine'):
        get_session().execute(select(1))
    assert 'SELECT 1' in caplog.text


def test_registering_logs_the_url_without_its_password_and_the_name():
    with LogCapture('mortar_rdb') as log:
        register_session('postgresql+psycopg://scott:tiger@db.example/app', 'billing')
    message = "Registering session for postgresql+psycopg://scott:***@db.example/app with name 'billing'"
    log.check(('mortar_rdb', 'INFO', message))


# Lookup ------------------------------------------------------------------------


def test_get_session_of_an_unknown_name_raises_zopes_component_lookup_error():
    with pytest.raises(ComponentLookupError) as raised:
        get_session('nope')
    assert type(raised.value) is ComponentLookupError
    assert str(raised.value) == (
        "No session is registered with the name 'nope': call register_session(url, name='nope') first."
    )


def test_sessions_are_registered_by_name():
    register_session('sqlite://', 'one')
    register_session('sqlite://', 'two')
    assert get_session('one').bind is not get_session('two').bind


def test_get_session_returns_a_session():
    register_session('sqlite://')
    assert isinstance(get_session(), Session)


def test_a_scoped_session_is_the_same_session_within_a_thread():
    register_session('sqlite://')
    assert get_session() is get_session()


def test_two_threads_get_two_sessions():
    register_session('sqlite://')
    seen = []
    thread = threading.Thread(target=lambda: seen.append(get_session()))
    thread.start()
    thread.join()
    assert isinstance(seen[0], Session)
    assert seen[0] is not get_session()


def test_an_unscoped_session_is_a_new_session_on_each_call():
    register_session('sqlite://', transactional=False, scoped=False)
    first, second = get_session(), get_session()
    assert isinstance(first, Session)
    assert first is not second


def test_sessions_are_registered_in_zope_components_site_manager():
    register_session('sqlite://', 'zca')
    registered = getSiteManager().getUtility(ISession, 'zca')
    assert isinstance(registered, scoped_session)
    assert registered() is get_session('zca')


def test_a_session_factory_registered_through_zope_component_is_found():
    factory = scoped_session(lambda: Session(create_engine('sqlite://')))
    getSiteManager().registerUtility(factory, provided=ISession, name='own')
    assert get_session('own') is factory()
    factory.remove()


def test_an_object_belongs_to_the_threads_session(things_url):
    register_session(things_url)
    thing = Thing(id=1)
    get_session().add(thing)
    assert object_session(thing) is get_session()
    transaction.abort()


# Joined to transaction ---------------------------------------------------------


def test_orm_writes_inside_the_transaction_manager_are_committed(things_url):
    register_session(things_url)
    with transaction.manager:
        get_session().add(Thing(id=1))
    assert count(things_url, Thing.__table__) == 1


def test_core_writes_inside_the_transaction_manager_are_committed(things_url):
    register_session(things_url)
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
    assert count(things_url) == 1


def test_text_writes_inside_the_transaction_manager_are_committed(things_url):
    register_session(things_url)
    with transaction.manager:
        get_session().execute(text('INSERT INTO things (id) VALUES (1)'))
    assert count(things_url) == 1


def test_an_aborted_transaction_rolls_core_and_text_writes_back(things_url):
    register_session(things_url)
    with pytest.raises(RuntimeError), transaction.manager:
        get_session().execute(things.insert().values(id=1))
        get_session().execute(text('INSERT INTO things (id) VALUES (2)'))
        raise RuntimeError('the application fails')
    assert count(things_url) == 0


def test_zope_sqlalchemys_mark_changed_takes_the_session(things_url):
    register_session(things_url)
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
        mark_changed(get_session())
    assert count(things_url) == 1


def test_a_non_transactional_session_is_committed_by_its_owner(things_url):
    register_session(things_url, transactional=False)
    session = get_session()
    session.execute(things.insert().values(id=1))
    transaction.commit()  # nothing to do with this session
    session.rollback()
    assert count(things_url) == 0
    session.execute(things.insert().values(id=2))
    session.commit()
    assert count(things_url) == 1


# Two-phase commit --------------------------------------------------------------


def test_a_transactional_session_prepares_exactly_where_the_server_can(things_url):
    register_session(things_url)
    prepared = prepares(get_session())
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
    assert bool(prepared) is server_can_prepare(things_url)
    assert count(things_url) == 1


def test_twophase_false_never_prepares(things_url):
    register_session(things_url, twophase=False)
    prepared = prepares(get_session())
    with transaction.manager:
        get_session().execute(things.insert().values(id=1))
    assert prepared == []
    assert count(things_url) == 1


def test_a_non_transactional_session_never_prepares(things_url):
    register_session(things_url, transactional=False)
    session = get_session()
    prepared = prepares(session)
    session.execute(things.insert().values(id=1))
    session.commit()
    assert session.twophase is False
    assert prepared == []


def test_ddl_works_through_a_non_transactional_session(db_url):
    # On MariaDB a two-phase (XA) session refuses DDL with XAER_RMFAIL.
    register_session(db_url, transactional=False)
    session = get_session()
    session.execute(text('CREATE TABLE made (id INTEGER)'))
    session.commit()
    assert 'made' in inspect(session.bind).get_table_names()
